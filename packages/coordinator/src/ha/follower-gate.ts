// What a follower answers: reads the shared catalog serves as well here as at the leader;
// everything else (commands, mover registration, what needs the movers' inventory) is
// refused with NOT_LEADER naming the leader.
import type { DescService } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@ferry/common";
import { notLeader } from "./not-leader.js";

/** `impl` with every method but `reads` refused while `isLeader` is false. */
export function followerGate<S extends DescService>(
  impl: ServiceImpl<S>,
  o: { isLeader: () => boolean; leaderAddress: () => string | undefined; reads: readonly string[] },
): ServiceImpl<S> {
  const out: Record<string, unknown> = { ...impl };
  for (const [name, handler] of Object.entries(impl as Record<string, unknown>)) {
    if (o.reads.includes(name) || typeof handler !== "function") continue;
    const fn = handler as (req: unknown, ctx: HandlerContext) => unknown;
    out[name] = (req: unknown, ctx: HandlerContext) => {
      if (!o.isLeader()) throw notLeader(name, o.leaderAddress());
      return fn(req, ctx);
    };
  }
  return out as ServiceImpl<S>;
}
