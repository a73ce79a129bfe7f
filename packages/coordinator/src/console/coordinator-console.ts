import { create, toJson } from "@bufbuild/protobuf";
import {
  GetJobRequestSchema,
  type Logger,
  type OperatorService,
  readTlsPem,
  type ServiceImpl,
  WatchJobResponseSchema,
} from "@ferry/common";
import type { Caller } from "../auth/tokens.js";
import { createTokenCheck } from "../auth/tokens.js";
import type { CoordinatorConfig } from "../config.js";
import type { JobEvents } from "../dispatch/job-events.js";
import type { ProgressTracker } from "../jobs/progress-tracker.js";
import { type ConsoleServer, startConsole } from "./console-server.js";
import { createJobFeed } from "./job-feed.js";

/** What the coordinator hands its console. */
export interface CoordinatorConsoleDeps {
  /** The operator API exactly as gRPC serves it (guarded when tokens are configured). */
  served: ServiceImpl<typeof OperatorService>;
  /** The unguarded API: the job feed reads jobs for tabs that already proved a token. */
  inner: ServiceImpl<typeof OperatorService>;
  events: JobEvents;
  progress: ProgressTracker;
  logger: Logger;
}

// Tasks per job the feed sends; the job's summary counts them all.
const FEED_TASKS = 500;

// Without tokens the gRPC API lets anyone on its address do anything; so does the console.
const ANYONE: Caller = { name: "anyone", role: "admin" };

/** Starts the web console `config.console` asks for, with the coordinator's TLS and tokens. */
export async function startCoordinatorConsole(
  config: CoordinatorConfig & { console: { listen: string } },
  d: CoordinatorConsoleDeps,
): Promise<ConsoleServer> {
  const identify = config.tokens.length > 0 ? createTokenCheck(config.tokens) : () => ANYONE;
  const pem = config.tls ? await readTlsPem(config.tls) : undefined;
  const feed = createJobFeed({
    events: d.events,
    logger: d.logger,
    snapshot: async (id) => {
      const ctx = { signal: AbortSignal.timeout(10_000), metadata: {}, peer: "console feed" };
      // A page of tasks: a 10,000-task job is not re-read whole five times a second.
      const { job } = await d.inner.getJob(
        create(GetJobRequestSchema, { id, pageSize: FEED_TASKS }),
        ctx,
      );
      return toJson(
        WatchJobResponseSchema,
        create(WatchJobResponseSchema, {
          ...(job ? { job } : {}),
          progress: d.progress.forJob(id),
        }),
      );
    },
  });
  try {
    const server = await startConsole({
      listen: config.console.listen,
      ...(pem ? { tls: { cert: pem.cert, key: pem.key } } : {}),
      service: d.served,
      identify,
      tokens: config.tokens.length > 0,
      feed,
      logger: d.logger,
    });
    const close = async () => {
      feed.close();
      await server.close();
    };
    return { url: server.url, close, [Symbol.asyncDispose]: close };
  } catch (err) {
    feed.close();
    throw err;
  }
}
