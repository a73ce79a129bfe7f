// Files holding secrets (passphrases, credentials): refused when others may read them, since
// a readable secret file is as good as none.
import { readFile, stat } from "node:fs/promises";
import { FerryError } from "../errors/ferry-error.js";

/**
 * The text of `path`, a file of secrets `what` names ("passphrase file"). PERMISSION_DENIED
 * when its mode lets group or others read it; read errors are thrown as they come.
 */
export async function readPrivateFile(path: string, what: string): Promise<string> {
  const st = await stat(path);
  if ((st.mode & 0o077) !== 0) {
    throw new FerryError(
      "PERMISSION_DENIED",
      `${what} ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`,
    );
  }
  return readFile(path, "utf8");
}
