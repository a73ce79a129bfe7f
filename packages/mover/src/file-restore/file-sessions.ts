import type { Repository } from "@ferry/common";
import { type FileRestoreSession, openFileRestore } from "./file-restore-session.js";
import type { HelperGuest } from "./helper-vm.js";

/** Open file-restore sessions, reused while an operator browses one restore point. */
export interface FileSessions extends AsyncDisposable {
  /** Runs `fn` with the session of a restore point, opening it (a VM boot) if needed. */
  use<T>(
    repository: Repository,
    restorePointId: string,
    fn: (session: FileRestoreSession) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T>;
}

/** Options of {@link createFileSessions}. */
export interface FileSessionsOptions {
  guest: () => Promise<HelperGuest>;
  /** A session unused this long closes (its VM stops), milliseconds; default 60000. */
  idleMs?: number;
  /** Sessions open at once (each a 256 MiB VM); the least recently used goes. Default 2. */
  max?: number;
}

interface Entry {
  session: Promise<FileRestoreSession>;
  users: number;
  timer?: NodeJS.Timeout;
}

/** Creates the cache; disposing closes every session. */
export function createFileSessions(o: FileSessionsOptions): FileSessions {
  const open = new Map<string, Entry>();
  const idleMs = o.idleMs ?? 60_000;
  const drop = async (key: string) => {
    const entry = open.get(key);
    if (!entry) return;
    open.delete(key);
    clearTimeout(entry.timer);
    await entry.session.then(
      (s) => s.close(),
      () => undefined,
    );
  };
  return {
    async use(repository, restorePointId, fn, signal) {
      const key = `${repository.root}\0${restorePointId}`;
      let entry = open.get(key);
      if (!entry) {
        // Room first, without awaiting: a second caller for this key must find this entry.
        const idle = [...open].filter(([, x]) => x.users === 0).map(([k]) => k);
        const evict = idle.slice(0, Math.max(0, open.size + 1 - (o.max ?? 2)));
        const session = Promise.all(evict.map(drop))
          .then(() => o.guest())
          .then((guest) =>
            openFileRestore({ repository, restorePointId, guest, ...(signal ? { signal } : {}) }),
          );
        const mine: Entry = { session, users: 0 };
        entry = mine;
        open.set(key, mine);
        session.catch(() => {
          if (open.get(key) === mine) open.delete(key);
        });
      }
      const e = entry;
      clearTimeout(e.timer);
      e.users++;
      try {
        return await fn(await e.session);
      } finally {
        e.users--;
        if (e.users === 0 && open.get(key) === e) {
          e.timer = setTimeout(() => void drop(key), idleMs);
          e.timer.unref();
        }
      }
    },
    async [Symbol.asyncDispose]() {
      for (const key of [...open.keys()]) await drop(key);
    },
  };
}
