// The coordinator a mover registers with, among the addresses it was given: the leader,
// found by asking. A follower's NOT_LEADER names the leader; an unreachable one sends the
// mover to the next address.
import type { Client, ClientHandle, FerryError, MoverRegistryService } from "@ferry/common";

/** One open client at a time, to the coordinator believed to lead. */
export interface CoordinatorDialer extends Disposable {
  client(): Client<typeof MoverRegistryService>;
  address(): string;
  /** After `err`: to the leader it names, else to the next address. True when that is a leader named. */
  moveOn(err: FerryError): boolean;
}

/** Dials `addresses[0]` first. */
export function createCoordinatorDialer(
  addresses: readonly string[],
  connect: (address: string) => ClientHandle<typeof MoverRegistryService>,
): CoordinatorDialer {
  if (addresses.length === 0) throw new Error("no coordinator address");
  let next = 0;
  let address = addresses[0] as string;
  let client = connect(address);
  const go = (to: string) => {
    if (to === address) return;
    client.close();
    address = to;
    client = connect(to);
  };
  return {
    client: () => client,
    address: () => address,
    moveOn(err) {
      const leader = err.code === "NOT_LEADER" ? err.details.leader : undefined;
      if (typeof leader === "string" && leader !== address) {
        go(leader);
        return true;
      }
      if (addresses.length > 1 && (err.retryable || err.code === "NOT_LEADER")) {
        next = (addresses.indexOf(address) + 1) % addresses.length;
        go(addresses[next] as string);
      }
      return false;
    },
    [Symbol.dispose]: () => client.close(),
  };
}
