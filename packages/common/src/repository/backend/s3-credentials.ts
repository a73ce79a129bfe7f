// S3 credentials: from a credentials file (the AWS shared format) or from the standard AWS
// environment variables. A secret never reaches a message, a log or an error's details.

import { FerryError } from "../../errors/ferry-error.js";
import { readPrivateFile } from "../../util/private-file.js";

/** An access key pair (and session token of temporary credentials). Never log it. */
export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Where {@link resolveS3Credentials} looks. */
export interface S3CredentialSource {
  /**
   * A file in the AWS shared credentials format (`[profile]` sections of
   * `aws_access_key_id`, `aws_secret_access_key`, optionally `aws_session_token`), readable
   * by its owner only. Without it: the environment.
   */
  credentialsFile?: string;
  /** The file's section; default "default". */
  profile?: string;
  /**
   * The environment read without a file: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
   * optionally AWS_SESSION_TOKEN. Default process.env.
   */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The credentials `source` names. CONFIG_INVALID when they are missing or incomplete;
 * PERMISSION_DENIED for a credentials file others may read. Messages name the file, the
 * profile and the variables, never a value.
 */
export async function resolveS3Credentials(source: S3CredentialSource): Promise<S3Credentials> {
  if (source.credentialsFile === undefined) return credentialsFromEnv(source.env ?? process.env);
  const path = source.credentialsFile;
  const profile = source.profile ?? "default";
  let text: string;
  try {
    text = await readPrivateFile(path, "S3 credentials file");
  } catch (err) {
    if (err instanceof FerryError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? "unknown error";
    throw new FerryError("CONFIG_INVALID", `cannot read S3 credentials file ${path}: ${code}`);
  }
  const section = parseCredentialsFile(text).get(profile);
  const id = section?.get("aws_access_key_id");
  const secret = section?.get("aws_secret_access_key");
  if (!id || !secret) {
    throw new FerryError(
      "CONFIG_INVALID",
      `S3 credentials file ${path} has no [${profile}] with aws_access_key_id and aws_secret_access_key`,
    );
  }
  const token = section?.get("aws_session_token");
  return { accessKeyId: id, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) };
}

function credentialsFromEnv(env: Readonly<Record<string, string | undefined>>): S3Credentials {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (!id || !secret) {
    throw new FerryError(
      "CONFIG_INVALID",
      "no S3 credentials: give a credentials file or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    );
  }
  const token = env.AWS_SESSION_TOKEN;
  return { accessKeyId: id, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) };
}

/**
 * Sections of an INI file as maps of lower-cased keys to values. `#` and `;` start comment
 * lines; keys outside a section are ignored.
 */
export function parseCredentialsFile(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      const name = header[1] as string;
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0 || !current) continue;
    current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  return sections;
}
