// A client of the leading coordinator among several addresses, found by asking: a
// follower's NOT_LEADER names the leader (details.leader), an unreachable coordinator sends
// the caller to the next address. Movers register through it; the CLI calls through it.
import type { DescService } from "@bufbuild/protobuf";
import type { FerryError } from "../errors/ferry-error.js";
import type { ClientHandle } from "./client.js";

/** One open client at a time, to the coordinator believed to lead. */
export interface LeaderDialer<S extends DescService> extends Disposable {
  client(): ClientHandle<S>;
  address(): string;
  /**
   * After `err`: to the leader it names (true), else, when it says the coordinator is gone
   * or not leading, to the next address (false; the caller backs off as it would).
   */
  moveOn(err: FerryError): boolean;
}

/** Dials `addresses[0]` first. */
export function createLeaderDialer<S extends DescService>(
  addresses: readonly string[],
  connect: (address: string) => ClientHandle<S>,
): LeaderDialer<S> {
  if (addresses.length === 0) throw new Error("no coordinator address");
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
      if (addresses.length > 1 && (err.retryable || err.code === "NOT_LEADER"))
        go(addresses[(addresses.indexOf(address) + 1) % addresses.length] as string);
      return false;
    },
    [Symbol.dispose]: () => client.close(),
  };
}

/**
 * `dialer`'s client whose unary calls follow the leader: a call refused by a follower, or by
 * an unreachable coordinator, is made again where `moveOn` leads, once per address.
 * Streaming calls go to the coordinator found so far.
 */
export function followLeader<S extends DescService>(
  dialer: LeaderDialer<S>,
  addresses: number,
  isUnary: (method: string) => boolean,
): ClientHandle<S> {
  return new Proxy({} as ClientHandle<S>, {
    get(_target, prop) {
      const current = dialer.client() as unknown as Record<string | symbol, unknown>;
      const value = current[prop];
      if (typeof prop !== "string" || typeof value !== "function" || !isUnary(prop))
        return typeof value === "function" ? value.bind(current) : value;
      return async (...args: unknown[]) => {
        for (let tries = 0; ; tries++) {
          const c = dialer.client() as unknown as Record<string, (...a: unknown[]) => unknown>;
          try {
            return await (c[prop] as (...a: unknown[]) => unknown)(...args);
          } catch (err) {
            const fe = err as FerryError;
            if (tries >= addresses || !fe?.code) throw err;
            const before = dialer.address();
            dialer.moveOn(fe);
            if (dialer.address() === before) throw err;
          }
        }
      };
    },
  });
}
