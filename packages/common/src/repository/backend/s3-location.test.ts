import { describe, expect, it } from "vitest";
import { rejection } from "../rejection.test-helper.js";
import { isS3Location, parseS3Location } from "./s3-location.js";

describe("s3:// repository locations", () => {
  it("reads bucket, prefix and every parameter; path-style follows the endpoint by default", () => {
    expect(isS3Location("s3://b/x")).toBe(true);
    expect(isS3Location("/srv/repo")).toBe(false);
    expect(
      parseS3Location(
        "s3://ferry-backups/site-a/repo/?endpoint=https://rgw.example:7480/&region=default&credentials-file=/etc/ferry/s3&profile=ferry&ca-file=/etc/ferry/ca.pem",
      ),
    ).toEqual({
      bucket: "ferry-backups",
      prefix: "site-a/repo",
      endpoint: "https://rgw.example:7480",
      region: "default",
      forcePathStyle: true,
      credentialsFile: "/etc/ferry/s3",
      profile: "ferry",
      caFile: "/etc/ferry/ca.pem",
    });
    // AWS itself: virtual-hosted style, region default us-east-1, credentials from the env.
    expect(parseS3Location("s3://ferry-backups")).toEqual({
      bucket: "ferry-backups",
      region: "us-east-1",
      forcePathStyle: false,
    });
    expect(
      parseS3Location("s3://b1/p?endpoint=http://127.0.0.1:9000&path-style=false").forcePathStyle,
    ).toBe(false);
  });

  it("refuses credentials in the URL, unknown parameters and bad values, naming them", async () => {
    const bad = async (location: string) => {
      const err = await rejection(Promise.resolve().then(() => parseS3Location(location)));
      expect(err.code).toBe("CONFIG_INVALID");
      return err.message;
    };
    const withSecret = await bad("s3://AKIA:supersecret@bucket/p");
    expect(withSecret).toContain("no credentials in it");
    expect(withSecret).not.toContain("supersecret");
    expect(await bad("s3://b1/p?colour=blue")).toContain("unknown parameter colour");
    expect(await bad("s3://b1/p?endpoint=ftp://x")).toContain("endpoint must be http(s)");
    expect(await bad("s3://b1/p?path-style=yes")).toContain("path-style must be true or false");
  });
});
