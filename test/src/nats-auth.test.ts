import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@ferry/common";
import { connectEvents } from "@ferry/mover";
import { connect, StringCodec } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServer, startNatsServer } from "./lab/nats-server.js";

const PASSWORD = "s3cret-only-in-a-file";

describe("NATS with credentials", () => {
  let work: string;
  let nats: NatsServer;
  const lines: string[] = [];
  const logger = createLogger({ name: "test", level: "debug", write: (l) => lines.push(l) });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-nats-auth-"));
    nats = await startNatsServer({ auth: { user: "ferry", pass: PASSWORD } });
    await writeFile(join(work, "nats.pass"), `${PASSWORD}\n`, { mode: 0o600 });
    await writeFile(join(work, "wrong.pass"), "not-the-password\n", { mode: 0o600 });
  });
  afterAll(async () => {
    await nats?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("connects a mover with its user and password file, and events flow", async () => {
    const events = await connectEvents(nats.url, logger, {
      user: "ferry",
      passwordFile: join(work, "nats.pass"),
    });
    try {
      const connection = events?.connection;
      expect(connection).toBeDefined();
      const sc = StringCodec();
      const sub = connection?.subscribe("ferry.v1.test", { max: 1 });
      connection?.publish("ferry.v1.test", sc.encode("hello"));
      for await (const m of sub ?? []) expect(sc.decode(m.data)).toBe("hello");
    } finally {
      await events?.close();
    }
  });

  it("refuses a client without credentials, and one with the wrong password", async () => {
    await expect(connect({ servers: nats.url, maxReconnectAttempts: 0 })).rejects.toThrow(
      /AUTHORIZATION_VIOLATION|Authorization/i,
    );
    const events = await connectEvents(nats.url, logger, {
      user: "ferry",
      passwordFile: join(work, "wrong.pass"),
    });
    try {
      expect(events?.connection).toBeUndefined();
    } finally {
      await events?.close();
    }
  });

  it("never writes a password to the log, even one inside the URL", async () => {
    const url = nats.url.replace("nats://", `nats://ferry:${PASSWORD}@`);
    const events = await connectEvents(url, logger);
    await events?.close();
    expect(lines.join("\n")).toContain("***@127.0.0.1");
    expect(lines.join("\n")).not.toContain(PASSWORD);
    expect(lines.join("\n")).not.toContain("not-the-password");
  });
});
