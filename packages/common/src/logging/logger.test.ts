import { describe, expect, it } from "vitest";
import { FerryError } from "../errors/ferry-error.js";
import { createLogger } from "./logger.js";

describe("logger", () => {
  it("writes JSON lines with bound fields, filters by level, redacts secrets", () => {
    const lines: string[] = [];
    const log = createLogger({ name: "mover", level: "info", write: (l) => lines.push(l) }).child({
      moverId: "m1",
    });
    log.debug("hidden");
    log.info("registered", { token: "s3cr3t", nats: { password: "pw", url: "nats://x" } });
    log.error("failed", { err: new FerryError("QMP_ERROR", "no such node") });
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0] ?? "");
    expect(first).toMatchObject({
      level: "info",
      name: "mover",
      msg: "registered",
      moverId: "m1",
      token: "[redacted]",
    });
    expect(first.nats).toEqual({ password: "[redacted]", url: "nats://x" });
    expect(lines.join("")).not.toContain("s3cr3t");
    expect(JSON.parse(lines[1] ?? "").err).toEqual({
      name: "FerryError",
      message: "no such node",
      code: "QMP_ERROR",
    });
  });
});
