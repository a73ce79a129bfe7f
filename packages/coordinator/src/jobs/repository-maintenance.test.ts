import {
  bindService,
  createLogger,
  FerryError,
  type GrpcServer,
  type HandlerContext,
  MoverService,
  type ServiceImpl,
  startGrpcServer,
  Transport,
  type VerifyRepositoryRequest,
} from "@ferry/common";
import { afterEach, describe, expect, it } from "vitest";
import { restorePoint } from "../catalog/catalog-fixtures.test-helper.js";
import type { CatalogStore } from "../catalog/catalog-store.js";
import { openSqliteCatalog } from "../catalog/sqlite/sqlite-catalog.js";
import { createMoverRegistry } from "../registry/mover-registry.js";
import {
  createRepositoryMaintenance,
  type RepositoryMaintenance,
} from "./repository-maintenance.js";

const REPO = "/srv/ferry";
const quiet = createLogger({ name: "test", write: () => undefined });
const unimplemented = async (): Promise<never> => {
  throw new FerryError("UNIMPLEMENTED", "not in this test");
};

type Verify = (req: VerifyRepositoryRequest, ctx: HandlerContext) => Promise<object>;

let servers: GrpcServer[] = [];
let catalog: CatalogStore | undefined;
let maintained: RepositoryMaintenance | undefined;
afterEach(async () => {
  maintained?.close();
  for (const s of servers) await s.close(100);
  servers = [];
  await catalog?.close();
});

// A mover whose VerifyRepository answers from a script; everything else is unimplemented.
async function scriptedMover(verifyRepository: Verify): Promise<string> {
  const impl = Object.fromEntries(MoverService.methods.map((m) => [m.localName, unimplemented]));
  const server = await startGrpcServer({
    services: [
      bindService(MoverService, {
        ...impl,
        verifyRepository,
      } as unknown as ServiceImpl<typeof MoverService>),
    ],
  });
  servers.push(server);
  return server.address;
}

/** An address where no mover listens any more. */
async function goneMover(): Promise<string> {
  const server = await startGrpcServer({ services: [] });
  await server.close(100);
  return server.address;
}

async function setup(movers: Record<string, string>) {
  catalog = await openSqliteCatalog({ path: ":memory:" });
  const registry = createMoverRegistry({ heartbeatIntervalMs: 60_000 });
  for (const [id, address] of Object.entries(movers))
    registry.register({
      mover: { id, address, hostId: `host-${id}`, transports: [Transport.HOTADD], taskSlots: 2 },
    });
  maintained = createRepositoryMaintenance({ registry, catalog, logger: quiet });
  return { catalog, maintenance: maintained };
}

const answer = async () => ({ chunksChecked: 7n });
const refusal = (call: Promise<unknown>) =>
  call.then(
    () => {
      throw new Error("the call succeeded");
    },
    (err: unknown) => err as FerryError,
  );

describe("repository maintenance on movers", () => {
  it("cancels the mover's work when the caller aborts", async () => {
    let called!: () => void;
    const reached = new Promise<void>((r) => (called = r));
    let sawAbort!: (reason: unknown) => void;
    const moverAborted = new Promise<unknown>((r) => (sawAbort = r));
    const address = await scriptedMover(
      (_req, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => {
            sawAbort(ctx.signal.reason);
            reject(ctx.signal.reason);
          });
          called();
        }),
    );
    const { maintenance } = await setup({ m1: address });
    const stop = new AbortController();
    const verifying = refusal(maintenance.verify(REPO, [], stop.signal));
    await reached;
    stop.abort();
    expect(await verifying).toMatchObject({ code: "CANCELLED" });
    expect(await moverAborted).toMatchObject({ code: "CANCELLED" });
  });

  it("hands the call to the next mover when one is gone, and names the movers in an error", async () => {
    let refuse = false;
    const b = await scriptedMover(async (req) => {
      if (refuse) throw new FerryError("KEY_REQUIRED", `repository ${req.repository} is encrypted`);
      return answer();
    });
    // Both idle: m-a is asked first (by id), and is gone.
    const { maintenance } = await setup({ "m-a": await goneMover(), "m-b": b });
    const done = await maintenance.verify(REPO, [], new AbortController().signal);
    expect(done).toMatchObject({ moverId: "m-b", result: { chunksChecked: 7n } });
    refuse = true;
    const err = await refusal(maintenance.verify(REPO, [], new AbortController().signal));
    expect(err).toMatchObject({ code: "KEY_REQUIRED" });
    expect(err.message).toBe(`repository ${REPO} is encrypted (asked m-a, m-b)`);
  });

  it("asks another mover on NOT_FOUND only when the first never wrote into the repository", async () => {
    const a = await scriptedMover(async () => {
      throw new FerryError("NOT_FOUND", `${REPO} is not a Ferry repository`);
    });
    const b = await scriptedMover(answer);
    const { maintenance, catalog } = await setup({ "m-a": a, "m-b": b });
    const signal = new AbortController().signal;
    // m-a may simply not see the path: m-b does.
    expect(await maintenance.verify(REPO, [], signal)).toMatchObject({ moverId: "m-b" });
    // m-a wrote there: it is asked first, and its NOT_FOUND is the answer.
    await catalog.restorePoints.upsert(
      restorePoint("vm-a/20260101T000000000Z-0123abcd", { repository: REPO, moverId: "m-a" }),
    );
    const err = await refusal(maintenance.verify(REPO, [], signal));
    expect(err).toMatchObject({ code: "NOT_FOUND" });
    expect(err.message).toBe(`${REPO} is not a Ferry repository (on mover m-a)`);
  });
});
