// How the coordinator dials a mover: its credentials, and the leader's lease token on every
// call, which movers check (fencing).
import {
  type ChannelCredentials,
  type ClientHandle,
  createClient,
  leaseTokenMetadata,
  MoverService,
} from "@ferry/common";

/** What every client of a mover is made with. */
export interface MoverDialing {
  /** Mutual TLS when configured; default plaintext. */
  moverCredentials?: ChannelCredentials;
  /** The lease token this coordinator leads with now; 0 or absent without a lease. */
  leaseToken?: () => bigint;
}

/** A client of the mover at `address`. */
export function moverClient(d: MoverDialing, address: string): ClientHandle<typeof MoverService> {
  return createClient(MoverService, address, {
    ...(d.moverCredentials ? { credentials: d.moverCredentials } : {}),
    metadata: leaseTokenMetadata(d.leaseToken?.() ?? 0n),
  });
}
