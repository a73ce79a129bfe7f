// The passphrase's environment variable and hint, apart from the repository code: main.ts
// needs the hint for any command's error, and the file to start a key's derivation, without
// loading a repository.
import type { ParsedArgs } from "@ferry/common/cli";

/** Where a command finds an encrypted repository's passphrase when no flag names a file. */
export const PASSPHRASE_FILE_ENV = "FERRY_PASSPHRASE_FILE";

/** What to tell a user whose repository is encrypted and who gave no (right) passphrase. */
export const PASSPHRASE_HINT = `give its passphrase file with --passphrase-file FILE or ${PASSPHRASE_FILE_ENV}`;

/** The passphrase file `--passphrase-file` or $FERRY_PASSPHRASE_FILE names, if either does. */
export function passphraseFilePath(args: ParsedArgs): string | undefined {
  const flag = args.flags.get("passphrase-file");
  const path = typeof flag === "string" && flag !== "" ? flag : process.env[PASSPHRASE_FILE_ENV];
  return path || undefined;
}
