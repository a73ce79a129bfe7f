import { openRepository, type Repository } from "@ferry/common";

/** Repositories by root path, opened once (created on first use) and shared by tasks. */
export interface RepositoryCache extends AsyncDisposable {
  /**
   * The repository at `root`, opened once. `existing`: never create one (NOT_FOUND instead),
   * for reads such as a file-level restore.
   */
  get(root: string, options?: { existing?: boolean }): Promise<Repository>;
}

/** Creates an empty cache; disposing closes every repository. */
export function createRepositoryCache(): RepositoryCache {
  const open = new Map<string, Promise<Repository>>();
  return {
    get(root, options) {
      let repo = open.get(root);
      if (!repo) {
        // No task's signal: other tasks may wait on this same open.
        repo = openRepository({ root, create: options?.existing !== true });
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
