import { afterEach, describe, expect, it } from "vitest";
import { FerryError, isFerryError } from "../errors/ferry-error.js";
import { MoverState } from "../gen/ferry/v1/mover_pb.js";
import { OperatorService } from "../gen/ferry/v1/operator_pb.js";
import { createClient } from "./client.js";
import { bindService, type GrpcServer, startGrpcServer } from "./server.js";
import type { ServiceImpl } from "./types.js";

const unimplemented = () => Promise.reject(new FerryError("UNIMPLEMENTED", "not in this test"));

// Records what the server saw, so tests can assert cancellation reached it.
function testService(seen: { aborts: string[] }): ServiceImpl<typeof OperatorService> {
  return {
    listMovers: async (_req, ctx) => ({
      movers: [
        { id: "m1", address: ctx.metadata["x-echo"] ?? "", state: MoverState.UP, taskSlots: 4 },
      ],
    }),
    // Waits until the call is aborted, then records why.
    getJob: (req, ctx) =>
      new Promise((_resolve, reject) => {
        ctx.signal.addEventListener("abort", () => {
          seen.aborts.push(`${req.id}:${(ctx.signal.reason as FerryError).code}`);
          reject(ctx.signal.reason);
        });
      }),
    deletePolicy: async (req) => {
      throw new FerryError("QMP_ERROR", `policy ${req.id} is locked by QEMU`, { retryable: true });
    },
    listJobs: async () => {
      throw new Error("boom");
    },
    watchJob: async function* (req) {
      if (req.id !== "flood") {
        for (let i = 0; i < 3; i++) yield { job: { id: `${req.id}-${i}` } };
        return;
      }
      // Megabyte messages without end: output backs up as soon as the client stops reading.
      try {
        for (let i = 0; ; i++) yield { job: { id: `${i}`, policyId: "x".repeat(1 << 20) } };
      } finally {
        seen.aborts.push("flood:ended");
      }
    },
    listVms: unimplemented,
    createPolicy: unimplemented,
    listPolicies: unimplemented,
    backupNow: unimplemented,
    listRestorePoints: unimplemented,
    restore: unimplemented,
    browseFiles: unimplemented,
    restoreFiles: unimplemented,
    rescanRepository: unimplemented,
    prune: unimplemented,
    collectGarbage: unimplemented,
    verify: unimplemented,
    plan: unimplemented,
    simulate: unimplemented,
    protectionReport: unimplemented,
  };
}

describe("gRPC adapter over a real socket", () => {
  let server: GrpcServer | undefined;
  const seen = { aborts: [] as string[] };
  afterEach(async () => {
    await server?.close(500);
    seen.aborts.length = 0;
  });

  async function start() {
    server = await startGrpcServer({ services: [bindService(OperatorService, testService(seen))] });
    return createClient(OperatorService, server.address);
  }

  it("round-trips a unary call with metadata", async () => {
    using client = await start();
    const res = await client.listMovers({}, { metadata: { "x-echo": "10.0.0.1:7000" } });
    expect(res.movers).toHaveLength(1);
    expect(res.movers[0]?.id).toBe("m1");
    expect(res.movers[0]?.address).toBe("10.0.0.1:7000");
    expect(res.movers[0]?.state).toBe(MoverState.UP);
  });

  it("streams server messages in order", async () => {
    using client = await start();
    const ids: string[] = [];
    for await (const msg of client.watchJob({ id: "j" })) ids.push(msg.job?.id ?? "");
    expect(ids).toEqual(["j-0", "j-1", "j-2"]);
  });

  it("ends a stream's handler when its client leaves while output is backed up", async () => {
    using client = await start();
    for await (const msg of client.watchJob({ id: "flood" })) {
      expect(msg.job?.id).toBe("0");
      break; // leaves: the call is cancelled with megabytes still queued for it
    }
    await expect.poll(() => seen.aborts, { timeout: 10_000 }).toContain("flood:ended");
  });

  it("honours a deadline on both sides", async () => {
    using client = await start();
    const started = Date.now();
    // Long enough that a busy machine's delay in reading the call stays within the server's
    // slack for telling an expired deadline from a cancel.
    const err = await client.getJob({ id: "slow" }, { timeoutMs: 800 }).catch((e: unknown) => e);
    expect(isFerryError(err, "DEADLINE_EXCEEDED")).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
    await expect.poll(() => seen.aborts).toContain("slow:DEADLINE_EXCEEDED");
  });

  it("cancels a call through an AbortSignal and the server sees it", async () => {
    using client = await start();
    const controller = new AbortController();
    const pending = client.getJob({ id: "cancel-me" }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const err = await pending.catch((e: unknown) => e);
    expect(isFerryError(err, "CANCELLED")).toBe(true);
    await expect.poll(() => seen.aborts).toContain("cancel-me:CANCELLED");
  });

  it("maps a typed error to a status code and back, keeping code and retryable", async () => {
    using client = await start();
    const err = await client.deletePolicy({ id: "p1" }).catch((e: unknown) => e);
    expect(isFerryError(err)).toBe(true);
    const fe = err as FerryError;
    expect(fe.code).toBe("QMP_ERROR");
    expect(fe.retryable).toBe(true);
    expect(fe.message).toBe("policy p1 is locked by QEMU");
    // The coarse gRPC status is what non-Ferry clients see.
    expect(fe.details.grpcStatus).toBe(9); // FAILED_PRECONDITION
  });

  it("turns an unexpected handler exception into INTERNAL with its message", async () => {
    using client = await start();
    const err = await client.listJobs({}).catch((e: unknown) => e);
    expect(isFerryError(err, "INTERNAL")).toBe(true);
    expect((err as FerryError).message).toContain("boom");
  });

  it("reports an unreachable server as UNAVAILABLE and retryable", async () => {
    // Bind a server, stop it, then dial its now-closed port.
    server = await startGrpcServer({ services: [bindService(OperatorService, testService(seen))] });
    const address = server.address;
    await server.close(100);
    using client = createClient(OperatorService, address);
    const err = await client.listMovers({}, { timeoutMs: 3000 }).catch((e: unknown) => e);
    expect(isFerryError(err)).toBe(true);
    expect(["UNAVAILABLE", "DEADLINE_EXCEEDED"]).toContain((err as FerryError).code);
    expect((err as FerryError).retryable).toBe(true);
  });
});
