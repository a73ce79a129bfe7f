import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { GRPC_STATUS } from "./grpc-status.js";

describe("gRPC status codes without grpc-js", () => {
  it("are grpc-js's own, name for name", () => {
    for (const [name, code] of Object.entries(GRPC_STATUS))
      expect([name, code]).toEqual([name, status[name as keyof typeof status]]);
    expect(Object.keys(GRPC_STATUS).length).toBe(
      Object.keys(status).filter((k) => Number.isNaN(Number(k))).length,
    );
  });
});
