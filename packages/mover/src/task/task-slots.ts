import { FerryError } from "@ferry/common";

/** A running task as the slots see it. */
export interface RunningTask {
  id: string;
  kind: "backup" | "restore";
  startedAt: number;
  /** The VM a backup task reads. */
  vmId?: string;
}

/** The mover's task slots: admission, cancellation and the running list. */
export interface TaskSlots {
  readonly capacity: number;
  running(): RunningTask[];
  /**
   * Runs `fn` in a free slot with a signal that `cancel(id)` aborts. Rejects
   * with RESOURCE_EXHAUSTED (retryable) when every slot is busy, and with
   * TASK_RUNNING when a task with this id runs.
   */
  run<T>(
    id: string,
    kind: RunningTask["kind"],
    fn: (signal: AbortSignal) => Promise<T>,
    parent?: AbortSignal,
    vmId?: string,
  ): Promise<T>;
  /** Aborts a running task with CANCELLED; false when no such task runs. */
  cancel(id: string): boolean;
  /**
   * Refuses new tasks, aborts running ones with UNAVAILABLE (retryable: the
   * coordinator may run them elsewhere) and waits up to `timeoutMs` for their
   * cleanup to finish.
   */
  drain(timeoutMs: number): Promise<void>;
}

/** Creates `capacity` task slots. */
export function createTaskSlots(capacity: number): TaskSlots {
  const tasks = new Map<
    string,
    RunningTask & { controller: AbortController; done: Promise<unknown> }
  >();
  let draining = false;
  return {
    capacity,
    running: () =>
      [...tasks.values()].map(({ id, kind, startedAt, vmId }) => ({
        id,
        kind,
        startedAt,
        ...(vmId ? { vmId } : {}),
      })),
    async run(id, kind, fn, parent, vmId) {
      if (draining) throw new FerryError("UNAVAILABLE", "this mover is stopping");
      if (tasks.has(id))
        throw new FerryError("TASK_RUNNING", `task ${id} is already running on this mover`);
      if (tasks.size >= capacity) {
        throw new FerryError(
          "RESOURCE_EXHAUSTED",
          `all ${capacity} task slots of this mover are busy`,
        );
      }
      const controller = new AbortController();
      const onParent = () => controller.abort(parent?.reason);
      if (parent?.aborted) onParent();
      else parent?.addEventListener("abort", onParent, { once: true });
      const done = fn(controller.signal);
      tasks.set(id, {
        id,
        kind,
        ...(vmId ? { vmId } : {}),
        startedAt: Date.now(),
        controller,
        done: done.catch(() => undefined),
      });
      try {
        return await done;
      } finally {
        tasks.delete(id);
        parent?.removeEventListener("abort", onParent);
      }
    },
    async drain(timeoutMs) {
      draining = true;
      for (const t of tasks.values())
        t.controller.abort(new FerryError("UNAVAILABLE", "the mover is stopping"));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...tasks.values()].map((t) => t.done)),
        new Promise((r) => {
          timer = setTimeout(r, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    },
    cancel(id) {
      const task = tasks.get(id);
      if (!task) return false;
      task.controller.abort(new FerryError("CANCELLED", `task ${id} was cancelled`));
      return true;
    },
  };
}
