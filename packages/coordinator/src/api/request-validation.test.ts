import { create } from "@bufbuild/protobuf";
import {
  CreatePolicyRequestSchema,
  FerryError,
  RestoreFilesRequestSchema,
  SimulateRequestSchema,
} from "@ferry/common";
import { describe, expect, it } from "vitest";
import { absolutePath, checkRequestText, MAX_FIELD_CHARS } from "./request-validation.js";

/** The error `fn` throws (undefined when it does not). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err;
  }
}

function expectInvalid(err: unknown, field: string, message: RegExp): void {
  expect(err).toBeInstanceOf(FerryError);
  expect(err).toMatchObject({ code: "INVALID_ARGUMENT", details: { field } });
  expect((err as FerryError).message).toMatch(message);
}

describe("checkRequestText", () => {
  it("names a nested or listed field that holds NUL or too much text", () => {
    const policy = create(CreatePolicyRequestSchema, {
      policy: { name: "p", vmGlobs: ["web-*", "db\0"] },
    });
    expectInvalid(
      thrown(() => checkRequestText(CreatePolicyRequestSchema, policy)),
      "policy.vmGlobs[1]",
      /^policy\.vmGlobs\[1\] must not contain a NUL character$/,
    );
    const files = create(RestoreFilesRequestSchema, {
      restorePointId: "x".repeat(MAX_FIELD_CHARS + 1),
    });
    expectInvalid(
      thrown(() => checkRequestText(RestoreFilesRequestSchema, files)),
      "restorePointId",
      /^restorePointId is 4097 characters long; at most 4096 are allowed$/,
    );
  });

  it("passes ordinary requests, numbers and empty fields", () => {
    const ok = [
      () => checkRequestText(CreatePolicyRequestSchema, create(CreatePolicyRequestSchema)),
      () =>
        checkRequestText(
          SimulateRequestSchema,
          create(SimulateRequestSchema, { policyId: "名前 🦀", perHost: [1, 2 ** 32 - 1] }),
        ),
      () =>
        checkRequestText(
          RestoreFilesRequestSchema,
          create(RestoreFilesRequestSchema, { paths: ["/etc/hosts", "x".repeat(MAX_FIELD_CHARS)] }),
        ),
    ];
    for (const fn of ok) expect(thrown(fn)).toBeUndefined();
  });
});

describe("absolutePath", () => {
  it("normalizes an absolute path", () => {
    expect(absolutePath("repository", "/srv/ferry/../backups/")).toBe("/srv/backups");
    expect(absolutePath("repository", "/")).toBe("/");
  });

  it.each([
    ["relative/path", /^repository "relative\/path" must be an absolute path$/],
    ["../x", /^repository "\.\.\/x" must be an absolute path$/],
    ["/srv/repo\0", /^repository must not contain a NUL character$/],
    [`/srv/${"x".repeat(256)}`, /^repository has a component of 256 bytes; at most 255$/],
    [`/${"é".repeat(128)}`, /^repository has a component of 256 bytes; at most 255$/],
    [`/${"a/".repeat(2100)}`, /^repository is 4201 characters long; at most 4096 are allowed$/],
  ])("refuses %j", (path, message) => {
    expectInvalid(
      thrown(() => absolutePath("repository", path)),
      "repository",
      message,
    );
  });
});
