import { FerryError } from "../errors/ferry-error.js";
import { readPrivateFile } from "../util/private-file.js";
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
    text = await readPrivateFile(path, "passphrase file");
  } catch (err) {
    throw fsError(err, "reading the passphrase file", path);
  }
  const passphrase = text.split(/\r?\n/, 1)[0] ?? "";
  if (passphrase.length === 0) {
    throw new FerryError("INVALID_ARGUMENT", `passphrase file ${path} holds an empty first line`);
  }
  return passphrase;
}
