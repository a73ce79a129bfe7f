// Random small estates the planner's property tests share: skewed sizes, uneven resources
// and limits that bind or do not.
import fc from "fast-check";
import type { PlanInput } from "./estate.js";

export const GB = 1e9;

/** A small estate with skewed sizes, uneven resources and limits that bind or do not. */
export const estates: fc.Arbitrary<PlanInput> = fc
  .record({
    hosts: fc.array(fc.double({ min: 0.1, max: 4, noNaN: true }), { minLength: 1, maxLength: 5 }),
    datastores: fc.array(
      fc.record({
        gbps: fc.double({ min: 0.05, max: 3, noNaN: true }),
        // Idle latency under I/O control's admit threshold (20 ms): every task can start.
        load: fc.double({ min: 0, max: 0.7, noNaN: true }),
        baseMs: fc.double({ min: 0.5, max: 5, noNaN: true }),
      }),
      { minLength: 1, maxLength: 6 },
    ),
    movers: fc.array(
      fc.record({
        gbps: fc.double({ min: 0.05, max: 4, noNaN: true }),
        slots: fc.integer({ min: 1, max: 6 }),
        remote: fc.boolean(),
        host: fc.nat(),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    vms: fc.array(
      fc.record({
        gb: fc.oneof(
          fc.double({ min: 0.01, max: 20, noNaN: true }),
          fc.double({ min: 100, max: 2000, noNaN: true }),
        ),
        host: fc.nat(),
        datastores: fc.array(fc.nat(), { minLength: 1, maxLength: 2 }),
        observedGbps: fc.option(fc.double({ min: 0.01, max: 2, noNaN: true })),
        // A VM's own fixed cost, learned from a short last backup.
        overheadS: fc.option(fc.double({ min: 0, max: 30, noNaN: true })),
        transport: fc.constantFrom("hotadd", "nbd", "any"),
      }),
      { minLength: 1, maxLength: 30 },
    ),
    perHost: fc.integer({ min: 1, max: 4 }),
    perDatastore: fc.integer({ min: 1, max: 4 }),
    total: fc.integer({ min: 1, max: 12 }),
    repositoryWrites: fc.integer({ min: 1, max: 12 }),
    overheadS: fc.double({ min: 0, max: 60, noNaN: true }),
  })
  .map((e): PlanInput => {
    const hosts = e.hosts.map((gbps, i) => ({ id: `h${i}`, throughputBps: gbps * GB }));
    const datastores = e.datastores.map((d, i) => ({
      id: `ds${i}`,
      throughputBps: d.gbps * GB,
      productionLoad: d.load,
      baseLatencyMs: d.baseMs,
    }));
    const hostOf = (n: number) => hosts[n % hosts.length]?.id as string;
    const dsOf = (n: number) => datastores[n % datastores.length]?.id as string;
    return {
      hosts,
      datastores,
      // Every mover mounts every datastore and reads by NBD: every VM has a candidate.
      movers: e.movers.map((m, i) => ({
        id: `m${i}`,
        hostId: hostOf(m.host),
        datastoreIds: datastores.map((d) => d.id),
        hotadd: true,
        nbd: true,
        remote: i === 0 || m.remote,
        slots: m.slots,
        throughputBps: m.gbps * GB,
        up: true,
      })),
      vms: e.vms.map((v, i) => ({
        id: `vm${i}`,
        hostId: hostOf(v.host),
        datastoreIds: [...new Set(v.datastores.map(dsOf))],
        expectedBytes: v.gb * GB,
        ...(v.observedGbps === null ? {} : { observedBps: v.observedGbps * GB }),
        ...(v.overheadS === null ? {} : { overheadS: v.overheadS }),
        transport: v.transport,
      })),
      limits: {
        perHost: e.perHost,
        perDatastore: e.perDatastore,
        total: e.total,
        repositoryWrites: e.repositoryWrites,
      },
      cost: { streamBps: { hotadd: 0.4 * GB, nbd: 0.25 * GB }, overheadS: e.overheadS },
      windowS: 0,
    };
  });
