// Creating a repository, and adding passphrases to an encrypted one.
import { FerryError, openRepository, type ParsedArgs, readPassphraseFile } from "@ferry/common";
import { flag } from "./commands.js";
import { openRepositoryFromFlags, passphraseFromFlags } from "./repository-flags.js";

const out = (line: string) => process.stdout.write(`${line}\n`);

/**
 * `init --repo <dir> [--passphrase-file F]`: creates a repository, encrypted (AES-256-GCM,
 * keyed chunk ids) when a passphrase is given. ALREADY_EXISTS when there is one.
 */
export async function initCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  const root = flag(args, "repo") as string;
  const existing = await openRepository({ root, signal }).catch((err: unknown) => {
    if (err instanceof FerryError && err.code === "NOT_FOUND") return undefined;
    throw err;
  });
  if (existing) {
    await existing.close();
    throw new FerryError("ALREADY_EXISTS", `${root} is already a Ferry repository`);
  }
  await using repository = await openRepositoryFromFlags(args, signal, { create: true });
  const kind = repository.config.encryption
    ? "encrypted (AES-256-GCM); keep the passphrase safe: without it nothing can be restored"
    : "not encrypted";
  out(`created repository ${repository.root} (${repository.config.id}), ${kind}`);
}

/**
 * `key add --repo <dir> --passphrase-file F --new-passphrase-file G`: seals the repository's
 * key under one more passphrase; either then opens it.
 */
export async function keyCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  const [, action] = args.positionals;
  if (action !== "add") {
    throw new FerryError(
      "INVALID_ARGUMENT",
      "usage: ferry-mover key add --repo <dir> --passphrase-file F --new-passphrase-file G",
    );
  }
  if ((await passphraseFromFlags(args)) === undefined)
    throw new FerryError(
      "INVALID_ARGUMENT",
      "--passphrase-file (the current passphrase) is required",
    );
  const added = await readPassphraseFile(flag(args, "new-passphrase-file") as string);
  await using repository = await openRepositoryFromFlags(args, signal);
  const name = await repository.addPassphrase(added);
  out(`added key file keys/${name} to ${repository.root}`);
}
