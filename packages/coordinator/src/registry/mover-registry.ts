import { create, equals, type Message, type MessageInitShape } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Datastore,
  DatastoreSchema,
  FerryError,
  type Host,
  HostSchema,
  type Mover,
  type MoverMetrics,
  MoverSchema,
  MoverState,
  type RegisterRequestSchema,
  type Vm,
  VmSchema,
} from "@ferry/common";

/** Options of {@link createMoverRegistry}. */
export interface MoverRegistryOptions {
  /** Heartbeat interval movers are told to keep, milliseconds. */
  heartbeatIntervalMs: number;
  /** Missed intervals before a mover is marked down. Default 3. */
  missedBeatsAllowed?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** Movers and the inventory they report. Holds no timers: call `sweep` to age movers. */
export interface MoverRegistry {
  readonly heartbeatIntervalMs: number;
  /**
   * Records a registration. `down` restores one from the catalog after a
   * restart: known (its heartbeats are accepted) but not up until one arrives.
   */
  register(
    request: MessageInitShape<typeof RegisterRequestSchema>,
    options?: { down?: boolean },
  ): void;
  /** Records a heartbeat; false when the mover is unknown and must register. */
  heartbeat(moverId: string, metrics: MoverMetrics | undefined): boolean;
  /** Marks movers down that missed too many heartbeats; returns the ids newly down. */
  sweep(): string[];
  movers(): Mover[];
  vms(): Vm[];
  /**
   * When this coordinator first saw each VM in a registration, by VM id, for VMs a mover
   * still reports; the epoch for those reported in the first minutes after its start (they
   * were there before it). Kept in memory.
   */
  vmsFirstSeen(): ReadonlyMap<string, Date>;
  hosts(): Host[];
  datastores(): Datastore[];
}

interface Entry {
  mover: Mover;
  lastBeatMs: number;
  host?: Host;
  datastores: Datastore[];
  vms: Vm[];
}

// The same mover (but for its state, heartbeat and metrics), host, datastores and VMs.
function sameInventory(a: Entry, b: Entry): boolean {
  const steady = (m: Mover): Mover => ({
    ...m,
    state: MoverState.UNSPECIFIED,
    metrics: undefined,
    lastHeartbeatAt: undefined,
  });
  const sameList = <T extends Message>(schema: GenMessage<T>, x: T[], y: T[]) =>
    x.length === y.length && x.every((item, i) => equals(schema, item, y[i] as T));
  return (
    equals(MoverSchema, steady(a.mover), steady(b.mover)) &&
    (a.host === undefined
      ? b.host === undefined
      : b.host !== undefined && equals(HostSchema, a.host, b.host)) &&
    sameList(DatastoreSchema, a.datastores, b.datastores) &&
    sameList(VmSchema, a.vms, b.vms)
  );
}

/** How long after its start the registry counts VMs as seen before it started. */
export const STARTUP_SIGHTING_MS = 2 * 60_000;

/** Creates an in-memory registry (the SQLite catalog arrives with issue 4). */
export function createMoverRegistry(options: MoverRegistryOptions): MoverRegistry {
  const now = options.now ?? Date.now;
  const allowed = options.missedBeatsAllowed ?? 3;
  const entries = new Map<string, Entry>();
  const firstSeen = new Map<string, Date>();
  // Movers register again within a minute of a coordinator's start: VMs reported that soon
  // were there before it started (it cannot know since when), so they get no new grace and a
  // restart never turns a VM that never had a backup from NEVER into pending.
  const startedMs = now();
  const longAgo = new Date(0);
  const up = () => [...entries.values()].filter((e) => e.mover.state === MoverState.UP);
  // One record per id; movers that are up win over stale ones.
  const dedupe = <T extends { id: string }>(items: T[]) => [
    ...new Map(items.map((i) => [i.id, i])).values(),
  ];
  // The dispatcher asks for these on every pass and an estate has thousands of movers: they
  // are built again only after a registration or a mover going up or down, not per call.
  // Callers get their own array; the records in it are the registry's.
  let views: { movers: Mover[]; vms: Vm[]; hosts: Host[]; datastores: Datastore[] } | undefined;
  const view = () => {
    views ??= {
      movers: [...entries.values()].map((e) => e.mover).sort((a, b) => a.id.localeCompare(b.id)),
      vms: dedupe(up().flatMap((e) => e.vms)),
      hosts: dedupe(up().flatMap((e) => (e.host ? [e.host] : []))),
      datastores: dedupe(up().flatMap((e) => e.datastores)),
    };
    return views;
  };

  return {
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    register(request, options = {}) {
      const mover = create(MoverSchema, request.mover ?? {});
      if (!mover.id) throw new FerryError("INVALID_ARGUMENT", "register: mover.id is required");
      if (!mover.address)
        throw new FerryError("INVALID_ARGUMENT", `register: mover ${mover.id} gave no address`);
      if (!mover.hostId)
        throw new FerryError("INVALID_ARGUMENT", `register: mover ${mover.id} gave no host id`);
      mover.state = options.down ? MoverState.DOWN : MoverState.UP;
      mover.lastHeartbeatAt = timestampFromMs(now());
      const next: Entry = {
        mover,
        lastBeatMs: now(),
        ...(request.host ? { host: create(HostSchema, request.host) } : {}),
        datastores: (request.datastores ?? []).map((d) => create(DatastoreSchema, d)),
        vms: (request.vms ?? []).map((v) => create(VmSchema, v)),
      };
      const seenAt = now() - startedMs <= STARTUP_SIGHTING_MS ? longAgo : new Date(now());
      for (const vm of next.vms) if (!firstSeen.has(vm.id)) firstSeen.set(vm.id, seenAt);
      const known = entries.get(mover.id);
      // Movers register again every minute, mostly with what they said before: then the
      // records stay (the views need no rebuilding) and take the new mover's fields.
      if (known && sameInventory(known, next)) {
        if (known.mover.state !== mover.state) views = undefined;
        Object.assign(known.mover, mover);
        // As a replaced record would: metrics come again with the next heartbeat.
        if (mover.metrics === undefined) Reflect.deleteProperty(known.mover, "metrics");
        known.lastBeatMs = next.lastBeatMs;
        return;
      }
      views = undefined;
      entries.set(mover.id, next);
      // Forget VMs no mover reports any more (the map must not grow with every VM ever seen).
      const reported = new Set([...entries.values()].flatMap((e) => e.vms.map((v) => v.id)));
      for (const id of firstSeen.keys()) if (!reported.has(id)) firstSeen.delete(id);
    },
    heartbeat(moverId, metrics) {
      const entry = entries.get(moverId);
      if (!entry) return false;
      entry.lastBeatMs = now();
      entry.mover.lastHeartbeatAt = timestampFromMs(entry.lastBeatMs);
      if (entry.mover.state !== MoverState.UP) views = undefined;
      entry.mover.state = MoverState.UP;
      if (metrics) entry.mover.metrics = metrics;
      return true;
    },
    sweep() {
      const limit = now() - allowed * options.heartbeatIntervalMs;
      const down: string[] = [];
      for (const entry of entries.values()) {
        if (entry.mover.state === MoverState.UP && entry.lastBeatMs < limit) {
          entry.mover.state = MoverState.DOWN;
          down.push(entry.mover.id);
        }
      }
      if (down.length > 0) views = undefined;
      return down;
    },
    movers: () => [...view().movers],
    vms: () => [...view().vms],
    vmsFirstSeen: () => firstSeen,
    hosts: () => [...view().hosts],
    datastores: () => [...view().datastores],
  };
}
