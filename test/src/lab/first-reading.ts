import { decodeProgress, Phase, progressWildcard } from "@ferry/common";
import type { NatsConnection } from "nats";

/**
 * Resolves with the task id of the first READING progress message of a job or task (`id`
 * as progressWildcard takes it): a backup is then under way, for a fault to land mid-read.
 */
export function firstReading(nc: NatsConnection, id: string): Promise<string> {
  return new Promise<string>((resolve) => {
    const sub = nc.subscribe(progressWildcard(id), {
      callback: (_e, m) => {
        const p = decodeProgress(m.data);
        if (p.phase === Phase.READING) {
          sub.unsubscribe();
          resolve(p.taskId);
        }
      },
    });
  });
}
