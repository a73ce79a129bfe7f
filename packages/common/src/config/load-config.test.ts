import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FerryError } from "../errors/ferry-error.js";
import { loadConfigFile } from "./load-config.js";
import { array, boolean, number, object, oneOf, string } from "./schema.js";

const moverConfig = object({
  id: string({ nonEmpty: true }),
  listen: string({ pattern: /^[^:]+:\d+$/, hint: "host:port" }).default("127.0.0.1:0"),
  slots: number({ integer: true, min: 1, max: 64 }).default(2),
  transports: array(oneOf(["hotadd", "nbd"] as const)).default(["hotadd"]),
  nats: object({ url: string(), tls: boolean().default(false) }).optional(),
});

describe("configuration loading", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-config-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function load(name: string, content: string) {
    const path = join(dir, name);
    await writeFile(path, content);
    return { path, result: loadConfigFile(moverConfig, path) };
  }

  it("applies defaults and keeps given values", async () => {
    const { result } = await load("ok.json", JSON.stringify({ id: "m1", slots: 8 }));
    await expect(result).resolves.toEqual({
      id: "m1",
      listen: "127.0.0.1:0",
      slots: 8,
      transports: ["hotadd"],
    });
  });

  it("fails on an unknown key, naming the key and the file", async () => {
    const { path, result } = await load("typo.json", JSON.stringify({ id: "m1", slotz: 4 }));
    const err = (await result.catch((e: unknown) => e)) as FerryError;
    expect(err).toBeInstanceOf(FerryError);
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toContain(path);
    expect(err.message).toContain("slotz: unknown key");
    expect(err.details.key).toBe("slotz");
  });

  it("fails on a nested unknown key with its dotted path", async () => {
    const { result } = await load(
      "nested.json",
      JSON.stringify({ id: "m1", nats: { url: "nats://x", user: "a" } }),
    );
    await expect(result).rejects.toThrow(/nats\.user: unknown key/);
  });

  it("names every bad value with what was expected", async () => {
    const { result } = await load(
      "bad.json",
      JSON.stringify({ id: "", listen: "nowhere", slots: 0.5, transports: ["hotadd", "floppy"] }),
    );
    const msg = ((await result.catch((e: unknown) => e)) as Error).message;
    expect(msg).toContain("id: must not be empty");
    expect(msg).toContain('listen: expected host:port, got the string "nowhere"');
    expect(msg).toContain("slots: expected an integer, got 0.5");
    expect(msg).toContain('transports[1]: expected one of hotadd, nbd, got the string "floppy"');
  });

  it("reports a missing required key and broken JSON", async () => {
    const missing = await load("missing.json", "{}");
    await expect(missing.result).rejects.toThrow(/id: is required/);
    const broken = await load("broken.json", "{ id: ");
    await expect(broken.result).rejects.toThrow(/broken\.json is not valid JSON/);
  });

  it("reports a file that cannot be read", async () => {
    await expect(loadConfigFile(moverConfig, join(dir, "absent.json"))).rejects.toThrow(
      /cannot read configuration file .*absent\.json/,
    );
  });
});
