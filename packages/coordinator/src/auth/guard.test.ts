import {
  FerryError,
  type HandlerContext,
  type OperatorService,
  type ServiceImpl,
} from "@ferry/common";
import { describe, expect, it } from "vitest";
import { guardOperatorService } from "./guard.js";
import { METHOD_ROLE } from "./roles.js";
import { createTokenCheck, newToken } from "./tokens.js";

const viewer = newToken("val", "viewer");
const operator = newToken("otto", "operator");
const admin = newToken("ada", "admin");
const identify = createTokenCheck([viewer.entry, operator.entry, admin.entry]);

// Every method answers with its own name; watchJob streams it.
const impl = Object.fromEntries(
  Object.keys(METHOD_ROLE).map((m) => [
    m,
    m === "watchJob"
      ? async function* () {
          yield m;
        }
      : async () => m,
  ]),
) as unknown as ServiceImpl<typeof OperatorService>;
const guarded = guardOperatorService(impl, identify) as unknown as Record<
  string,
  (req: unknown, ctx: HandlerContext) => unknown
>;

async function call(method: string, token?: string): Promise<unknown> {
  const ctx: HandlerContext = {
    signal: new AbortController().signal,
    metadata: token ? { authorization: `Bearer ${token}` } : {},
    peer: "test",
  };
  const result = guarded[method]?.({}, ctx);
  if (result && typeof result === "object" && Symbol.asyncIterator in result) {
    const out: unknown[] = [];
    for await (const v of result as AsyncIterable<unknown>) out.push(v);
    return out[0];
  }
  return await result;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    return (err as FerryError).code;
  }
}

describe("operator API tokens and roles", () => {
  it.each([
    ["listMovers", "OK", "OK", "OK"],
    ["watchJob", "OK", "OK", "OK"],
    ["backupNow", "PERMISSION_DENIED", "OK", "OK"],
    ["restoreFiles", "PERMISSION_DENIED", "OK", "OK"],
    ["createPolicy", "PERMISSION_DENIED", "PERMISSION_DENIED", "OK"],
    ["collectGarbage", "PERMISSION_DENIED", "PERMISSION_DENIED", "OK"],
  ])("%s: viewer %s, operator %s, admin %s", async (method, v, o, a) => {
    expect(await codeOf(call(method, viewer.token))).toBe(v);
    expect(await codeOf(call(method, operator.token))).toBe(o);
    expect(await codeOf(call(method, admin.token))).toBe(a);
  });

  it("refuses a missing, malformed or unknown token, and never echoes it", async () => {
    expect(await codeOf(call("listMovers"))).toBe("UNAUTHENTICATED");
    expect(await codeOf(call("watchJob"))).toBe("UNAUTHENTICATED");
    const forged = `${admin.token}x`;
    const err = await call("listMovers", forged).catch((e: unknown) => e as FerryError);
    expect((err as FerryError).code).toBe("UNAUTHENTICATED");
    expect((err as FerryError).message).not.toContain(forged);
  });

  it("guards every method of the API", () => {
    expect(Object.keys(guarded).sort()).toEqual(Object.keys(METHOD_ROLE).sort());
  });

  it("stores only a hash of each token", () => {
    expect(JSON.stringify(admin.entry)).not.toContain(admin.token);
    expect(admin.entry.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
