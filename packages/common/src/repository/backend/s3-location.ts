// An S3 repository named by one string, for `--repo` and the `repository` setting of mover
// and coordinator: s3://bucket/prefix?endpoint=…&region=…&path-style=…&credentials-file=…
import { FerryError } from "../../errors/ferry-error.js";
import type { S3BackendOptions } from "./s3-backend.js";

/** True when `location` names an S3 repository (`s3://…`) rather than a directory. */
export function isS3Location(location: string): boolean {
  return location.startsWith("s3://");
}

const PARAMS = ["endpoint", "region", "path-style", "credentials-file", "profile", "ca-file"];

/**
 * The backend options of `s3://<bucket>[/<prefix>][?<params>]`. Parameters: `endpoint` (the
 * server's URL; default AWS), `region` (default us-east-1; RGW: its zone group),
 * `path-style` (true|false; default true with an endpoint, false without), `credentials-file`
 * and `profile` (default: the AWS_* environment variables), `ca-file` (a PEM CA, then the
 * only one trusted). Secrets never go in the string. CONFIG_INVALID naming what is wrong.
 */
export function parseS3Location(location: string): S3BackendOptions {
  let url: URL;
  try {
    url = new URL(location);
  } catch (err) {
    throw new FerryError("CONFIG_INVALID", `repository ${location} is not a valid s3:// URL`, {
      cause: err,
    });
  }
  if (url.protocol !== "s3:" || url.username !== "" || url.password !== "" || url.port !== "") {
    throw new FerryError(
      "CONFIG_INVALID",
      `repository ${url.protocol === "s3:" ? "s3://…" : location} must be s3://<bucket>[/<prefix>][?endpoint=…], with no credentials in it (use credentials-file or the AWS_* environment variables)`,
    );
  }
  for (const name of url.searchParams.keys()) {
    if (!PARAMS.includes(name)) {
      throw new FerryError(
        "CONFIG_INVALID",
        `repository ${location}: unknown parameter ${name} (known: ${PARAMS.join(", ")})`,
      );
    }
  }
  const get = (name: string) => url.searchParams.get(name) ?? undefined;
  const endpoint = get("endpoint");
  if (endpoint !== undefined && !/^https?:\/\/[^/?#]+\/?$/.test(endpoint)) {
    throw new FerryError(
      "CONFIG_INVALID",
      `repository ${location}: endpoint must be http(s)://host[:port], not ${endpoint}`,
    );
  }
  const pathStyle = get("path-style");
  if (pathStyle !== undefined && pathStyle !== "true" && pathStyle !== "false") {
    throw new FerryError(
      "CONFIG_INVALID",
      `repository ${location}: path-style must be true or false, not ${pathStyle}`,
    );
  }
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, "");
  const credentialsFile = get("credentials-file");
  const profile = get("profile");
  const caFile = get("ca-file");
  return {
    bucket: url.hostname,
    region: get("region") ?? "us-east-1",
    ...(endpoint === undefined ? {} : { endpoint: endpoint.replace(/\/$/, "") }),
    ...(prefix === "" ? {} : { prefix }),
    forcePathStyle: pathStyle === undefined ? endpoint !== undefined : pathStyle === "true",
    ...(credentialsFile === undefined ? {} : { credentialsFile }),
    ...(profile === undefined ? {} : { profile }),
    ...(caFile === undefined ? {} : { caFile }),
  };
}
