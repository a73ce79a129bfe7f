import { readFile, stat } from "node:fs/promises";
import { FerryError } from "../errors/ferry-error.js";
import { fsError } from "./fs-errors.js";

/**
 * Reads a repository passphrase from `path`: its first line, without the line break (so
 * `echo secret > file` works). Refuses an empty passphrase and a file others may read,
 * because a readable passphrase file is as good as no encryption. Never puts the
 * passphrase in an error.
 */
export async function readPassphraseFile(path: string): Promise<string> {
  let text: string;
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) {
      throw new FerryError(
        "PERMISSION_DENIED",
        `passphrase file ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`,
      );
    }
    text = await readFile(path, "utf8");
  } catch (err) {
    throw fsError(err, "reading the passphrase file", path);
  }
  const passphrase = text.split(/\r?\n/, 1)[0] ?? "";
  if (passphrase.length === 0) {
    throw new FerryError("INVALID_ARGUMENT", `passphrase file ${path} holds an empty first line`);
  }
  return passphrase;
}
