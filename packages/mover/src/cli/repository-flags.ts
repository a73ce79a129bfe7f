import {
  FerryError,
  openRepository,
  type ParsedArgs,
  type Repository,
  readPassphraseFile,
} from "@ferry/common/core";
import { passphraseFilePath } from "./passphrase-hint.js";

/** The passphrase from `--passphrase-file` or $FERRY_PASSPHRASE_FILE, if either names a file. */
export async function passphraseFromFlags(args: ParsedArgs): Promise<string | undefined> {
  const path = passphraseFilePath(args);
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
