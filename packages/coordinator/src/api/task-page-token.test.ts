import { describe, expect, it } from "vitest";
import { decodePageToken, encodePageToken } from "./task-page-token.js";

describe("GetJob page tokens", () => {
  it("round-trips the position for the same job and state filter", () => {
    const token = encodePageToken({ jobId: "j1", state: "failed", after: 41 });
    expect(decodePageToken(token, { jobId: "j1", state: "failed" })).toBe(41);
  });

  it("refuses a token of another listing or one it did not give", () => {
    const token = encodePageToken({ jobId: "j1", state: "", after: 3 });
    for (const [t, expected] of [
      [token, { jobId: "j2", state: "" }],
      [token, { jobId: "j1", state: "running" }],
      ["not a token", { jobId: "j1", state: "" }],
      [Buffer.from('[1,"j1","",-1]').toString("base64url"), { jobId: "j1", state: "" }],
    ] as const)
      expect(() => decodePageToken(t, expected)).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }),
      );
  });
});
