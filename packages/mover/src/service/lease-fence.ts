// The mover's side of fencing: commands carry the leader's lease token, and one older than
// the newest seen is refused, so a coordinator that lost its lease cannot act.
import {
  FerryError,
  type HandlerContext,
  leaseTokenOf,
  type MoverService,
  type ServiceImpl,
} from "@ferry/common";

/** The newest lease token this mover has seen. */
export interface LeaseFence {
  /** Accepts a command with `token` (raising the newest seen), or throws FAILED_PRECONDITION. */
  admit(token: bigint, what: string): void;
  newest(): bigint;
}

/** A fence that has seen `initial`; `remember` keeps each newer token (across restarts). */
export function createLeaseFence(
  initial = 0n,
  remember: (token: bigint) => void = () => undefined,
): LeaseFence {
  let newest = initial;
  return {
    admit(token, what) {
      if (token < newest)
        throw new FerryError(
          "FAILED_PRECONDITION",
          `${what} refused: it comes from a coordinator whose lease ended (token ${token}; the leader's is ${newest})`,
        );
      if (token > newest) remember(token);
      newest = token;
    },
    newest: () => newest,
  };
}

// What changes something: reads (describe, listing files or a repository, verify) are
// fine from any coordinator.
const COMMANDS = [
  "runBackup",
  "runRestore",
  "cancel",
  "setReadRateLimit",
  "extractFiles",
  "collectRepositoryGarbage",
  "deleteRestorePoints",
] as const;

/** `impl` with each command checked against `fence` first. */
export function fencedMoverService(
  impl: ServiceImpl<typeof MoverService>,
  fence: LeaseFence,
): ServiceImpl<typeof MoverService> {
  const out = { ...impl } as Record<string, unknown>;
  for (const name of COMMANDS) {
    const handler = impl[name] as (req: unknown, ctx: HandlerContext) => Promise<unknown>;
    out[name] = async (req: unknown, ctx: HandlerContext) => {
      const token = leaseTokenOf(ctx.metadata);
      if (token === undefined)
        throw new FerryError("INVALID_ARGUMENT", `${name}: the lease token is not a number`);
      fence.admit(token, name);
      return handler(req, ctx);
    };
  }
  return out as ServiceImpl<typeof MoverService>;
}
