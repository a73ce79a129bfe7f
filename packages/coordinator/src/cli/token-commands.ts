import { FerryError, type ParsedArgs } from "@ferry/common";
import { ROLES, type Role } from "../auth/roles.js";
import { newToken } from "../auth/tokens.js";
import { json2, out, str } from "./cli-io.js";

/**
 * `ferry token new --name NAME --role viewer|operator|admin`: prints a new API token once,
 * and the entry to add to the coordinator's `tokens` (which keeps only its hash).
 */
export function tokenCommand(args: ParsedArgs, json: boolean): void {
  const [, sub] = args.positionals;
  if (sub !== "new")
    throw new FerryError("INVALID_ARGUMENT", "usage: ferry token new --name NAME --role ROLE");
  const name = str(args, "name");
  const role = str(args, "role") as Role;
  if (!name) throw new FerryError("INVALID_ARGUMENT", "--name is required");
  if (!ROLES.includes(role))
    throw new FerryError("INVALID_ARGUMENT", `--role must be one of ${ROLES.join(", ")}`);
  const { token, entry } = newToken(name, role);
  if (json) {
    out(json2({ token, entry }));
    return;
  }
  out(`token (shown once; give it to ${name}): ${token}`);
  out(`add to the coordinator's "tokens": ${JSON.stringify(entry)}`);
}

/** The authorization metadata of --token or FERRY_TOKEN, if any. */
export function cliAuth(args: ParsedArgs): { metadata?: Record<string, string> } {
  const token = str(args, "token") || process.env.FERRY_TOKEN || "";
  return token ? { metadata: { authorization: `Bearer ${token}` } } : {};
}
