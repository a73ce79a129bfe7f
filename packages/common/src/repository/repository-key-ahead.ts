// What a CLI starts before it loads a command: the wrapping key of the repository it names
// (key-ahead.ts), read from the repository's files with nothing else of the repository code.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { readBoundedFile } from "./durable-fs.js";
import { KEY_FILE_NAME, KEYS_DIR, MAX_KEY_FILE_BYTES, REPOSITORY_CONFIG_FILE } from "./format.js";
import { deriveWrappingKeyAhead } from "./key-ahead.js";
import { writerKdf } from "./key-kdf.js";
import { readPassphraseFile } from "./passphrase-file.js";
import { parseKeyFile } from "./repository-key.js";

/**
 * Starts deriving the wrapping key that opening the local repository at `root` with the
 * passphrase in `passphraseFile` will need: that of its first key file, or with `create` and
 * no repository there yet, that of the key file creating it will write. Returns the salt
 * being derived for, or undefined when there is nothing to start. Errors are the command's
 * to report: this rejects, and the open later fails on its own.
 */
export async function deriveRepositoryKeyAhead(
  root: string,
  passphraseFile: string,
  options: { create?: boolean } = {},
): Promise<Buffer | undefined> {
  const passphrase = await readPassphraseFile(passphraseFile);
  const exists = await stat(join(root, REPOSITORY_CONFIG_FILE)).then(
    () => true,
    () => false,
  );
  if (!exists) {
    if (!options.create) return undefined;
    return deriveWrappingKeyAhead(passphrase, "fresh", writerKdf());
  }
  // No keys/: a plain repository, nothing to derive.
  const names = await readdir(join(root, KEYS_DIR)).catch(() => [] as string[]);
  const first = names.filter((n) => KEY_FILE_NAME.test(n)).sort()[0];
  if (first === undefined) return undefined;
  const path = join(root, KEYS_DIR, first);
  const text = (await readBoundedFile(path, MAX_KEY_FILE_BYTES, "key file")).toString("utf8");
  const { salt, ...kdf } = parseKeyFile(text, path).kdf;
  return deriveWrappingKeyAhead(passphrase, Buffer.from(salt, "base64"), kdf);
}
