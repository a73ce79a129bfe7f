// The answer of a coordinator that does not lead: NOT_LEADER, naming the leader when known,
// so movers and the CLI go there.
import { FerryError } from "@ferry/common";

/** The error a follower answers `what` with. */
export function notLeader(what: string, leaderAddress: string | undefined): FerryError {
  return new FerryError(
    "NOT_LEADER",
    leaderAddress
      ? `${what}: this coordinator is a follower; the leader is at ${leaderAddress}`
      : `${what}: this coordinator is a follower and no leader is known yet; try again shortly`,
    leaderAddress ? { details: { leader: leaderAddress } } : {},
  );
}
