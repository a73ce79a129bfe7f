import { describe, expect, it } from "vitest";
import { parseSourceSpec } from "./source-uri.js";

describe("parseSourceSpec", () => {
  it("reads NBD URIs and file paths", () => {
    expect(parseSourceSpec("nbd://127.0.0.1:10810/disk%200")).toEqual({
      t: "nbd",
      host: "127.0.0.1",
      port: 10810,
      exportName: "disk 0",
    });
    expect(parseSourceSpec("nbd://backup-host/")).toEqual({
      t: "nbd",
      host: "backup-host",
      port: 10809,
      exportName: "",
    });
    expect(parseSourceSpec("nbd+unix:///exp?socket=/run/a.sock")).toEqual({
      t: "nbd-unix",
      path: "/run/a.sock",
      exportName: "exp",
    });
    expect(parseSourceSpec("/srv/images/vm.raw")).toEqual({
      t: "file",
      path: "/srv/images/vm.raw",
    });
  });

  it("names what is wrong with a bad URI", () => {
    expect(() => parseSourceSpec("nbd+unix:///exp")).toThrow(/needs \?socket=/);
    expect(() => parseSourceSpec("http://x/y")).toThrow(/unsupported scheme http:/);
  });
});
