import type { TaskStore } from "./catalog-store.js";
import type { TaskRecord, TaskStateName } from "./records.js";

/** Tasks read per page by {@link tasksInStates}. */
const PAGE_SIZE = 1000;

/**
 * A job's tasks in `states`, in job order, read a page at a time with the event loop let
 * in between pages: a SQLite catalog reads synchronously, and reading all 10,000 tasks of
 * a large job at once held the API's thread for a few hundred ms.
 */
export async function tasksInStates(
  tasks: TaskStore,
  jobId: string,
  states: TaskStateName[],
): Promise<TaskRecord[]> {
  const all: TaskRecord[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await tasks.pageByJob(jobId, {
      limit: PAGE_SIZE,
      states,
      ...(after === undefined ? {} : { after }),
    });
    all.push(...page.tasks);
    if (page.next === undefined) return all;
    after = page.next;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
