import {
  FerryError,
  openRepository,
  type ParsedArgs,
  type Repository,
  readPassphraseFile,
} from "@ferry/common";

/** Where a command finds an encrypted repository's passphrase when no flag names a file. */
export const PASSPHRASE_FILE_ENV = "FERRY_PASSPHRASE_FILE";

/** What to tell a user whose repository is encrypted and who gave no (right) passphrase. */
export const PASSPHRASE_HINT = `give its passphrase file with --passphrase-file FILE or ${PASSPHRASE_FILE_ENV}`;

/** The passphrase from `--passphrase-file` or $FERRY_PASSPHRASE_FILE, if either names a file. */
export async function passphraseFromFlags(args: ParsedArgs): Promise<string | undefined> {
  const flag = args.flags.get("passphrase-file");
  const path = typeof flag === "string" && flag !== "" ? flag : process.env[PASSPHRASE_FILE_ENV];
  return path ? readPassphraseFile(path) : undefined;
}

/**
 * Opens `--repo` with the passphrase the flags give. With `create`, a missing repository is
 * created, encrypted when a passphrase is given.
 */
export async function openRepositoryFromFlags(
  args: ParsedArgs,
  signal: AbortSignal,
  options: { create?: boolean } = {},
): Promise<Repository> {
  const root = args.flags.get("repo");
  if (typeof root !== "string" || root === "")
    throw new FerryError("INVALID_ARGUMENT", "--repo is required");
  const passphrase = await passphraseFromFlags(args);
  return openRepository({
    root,
    signal,
    ...(options.create ? { create: true } : {}),
    ...(passphrase === undefined ? {} : { passphrase }),
  });
}
