import { openRepository, type Repository } from "@ferry/common";

/** Repositories by root path, opened once (created on first use) and shared by tasks. */
export interface RepositoryCache extends AsyncDisposable {
  /**
   * The repository at `root`, opened once. `existing`: never create one (NOT_FOUND instead),
   * for reads such as a file-level restore.
   */
  get(root: string, options?: { existing?: boolean }): Promise<Repository>;
}

/**
 * Creates an empty cache; disposing closes every repository. With `passphrase`, encrypted
 * repositories open with their key, and repositories created on first use are encrypted.
 */
export function createRepositoryCache(options: { passphrase?: string } = {}): RepositoryCache {
  const open = new Map<string, Promise<Repository>>();
  return {
    get(root, existing) {
      let repo = open.get(root);
      if (!repo) {
        // No task's signal: other tasks may wait on this same open.
        repo = openRepository({
          root,
          create: existing?.existing !== true,
          ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
        });
        open.set(root, repo);
        // A failed open must not stick: the next task tries again.
        repo.catch(() => open.delete(root));
      }
      return repo;
    },
    async [Symbol.asyncDispose]() {
      for (const repo of open.values())
        await repo.then(
          (r) => r.close(),
          () => undefined,
        );
      open.clear();
    },
  };
}
