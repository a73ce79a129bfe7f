import { describe, expect, it } from "vitest";
import { createJobEvents } from "../dispatch/job-events.js";
import { createJobFeed } from "./job-feed.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} } as never;

describe("the console's job feed", () => {
  it("reads a job once per burst of changes, for every tab", async () => {
    const events = createJobEvents();
    const reads: string[] = [];
    const feed = createJobFeed({
      events,
      logger: quiet,
      coalesceMs: 5,
      snapshot: async (id) => {
        reads.push(id);
        return { job: { id, name: "<b>x</b>" } };
      },
    });
    const tab1: string[] = [];
    const tab2: string[] = [];
    const bothGot = new Promise<void>((resolve) => {
      feed.add((e) => tab1.push(e));
      feed.add((e) => {
        tab2.push(e);
        resolve();
      });
    });
    for (let i = 0; i < 50; i++) events.notify("job-1");
    await bothGot;
    expect(reads).toEqual(["job-1"]);
    expect(tab1).toEqual(tab2);
    expect(tab1[0]).toBe(`event: job\ndata: {"job":{"id":"job-1","name":"<b>x</b>"}}\n\n`);
    feed.close();
  });

  it("reads nothing while no tab listens", async () => {
    const events = createJobEvents();
    let reads = 0;
    const feed = createJobFeed({
      events,
      logger: quiet,
      coalesceMs: 1,
      snapshot: async () => ++reads,
    });
    events.notify("job-1");
    await new Promise((r) => setTimeout(r, 20));
    expect(reads).toBe(0);
    feed.close();
  });
});
