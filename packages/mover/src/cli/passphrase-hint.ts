// The passphrase's environment variable and hint, apart from the repository code: main.ts
// needs the hint for any command's error without loading a repository.

/** Where a command finds an encrypted repository's passphrase when no flag names a file. */
export const PASSPHRASE_FILE_ENV = "FERRY_PASSPHRASE_FILE";

/** What to tell a user whose repository is encrypted and who gave no (right) passphrase. */
export const PASSPHRASE_HINT = `give its passphrase file with --passphrase-file FILE or ${PASSPHRASE_FILE_ENV}`;
