// The VMs of a libvirt host: every domain, defined or running, with disks, sizes and tags.
import { create } from "@bufbuild/protobuf";
import {
  type Datastore,
  DiskSchema,
  type Logger,
  toFerryError,
  type Vm,
  VmPowerState,
  VmSchema,
} from "@ferry/common";
import { datastoreOf } from "../inventory/describe-vm.js";
import { parseDomainXml } from "./domain-xml.js";
import type { Virsh } from "./virsh.js";
import { parseDomStats } from "./virsh-output.js";

/** Maps libvirt's virDomainState (domstats state.state) to the power state operators see. */
export function libvirtPowerState(state: number): VmPowerState {
  // 1 running, 2 blocked (running, waiting on I/O), 3 paused, 7 pmsuspended.
  if (state === 1 || state === 2) return VmPowerState.RUNNING;
  if (state === 3 || state === 7) return VmPowerState.PAUSED;
  return VmPowerState.STOPPED;
}

/**
 * Lists every domain of the libvirt connection as a Vm: id its UUID (stable across
 * renames), disks from its XML with sizes from domstats, tags from Ferry's metadata
 * element. A domain that vanishes or fails mid-listing is left out and logged.
 */
export async function listLibvirtVms(
  virsh: Virsh,
  hostId: string,
  datastores: readonly Datastore[],
  logger: Logger,
  signal: AbortSignal,
): Promise<Vm[]> {
  const uuids = (await virsh.run(["list", "--all", "--uuid"], { signal }))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const vms = await Promise.all(
    uuids.map(async (uuid): Promise<Vm | undefined> => {
      try {
        const info = parseDomainXml(
          await virsh.run(["dumpxml", uuid], { domain: uuid, signal }),
          `domain XML of ${uuid}`,
        );
        const statsOut = await virsh.run(["domstats", uuid, "--state", "--block"], {
          domain: info.name,
          signal,
        });
        const state = Number(/state\.state=(\d+)/.exec(statsOut)?.[1] ?? 0);
        const stats = parseDomStats(statsOut);
        return create(VmSchema, {
          id: info.uuid,
          name: info.name,
          hostId,
          tags: info.tags,
          powerState: libvirtPowerState(state),
          qmpSocket: "",
          guestAgentSocket: "",
          disks: info.disks.map((d) =>
            create(DiskSchema, {
              id: d.target,
              datastoreId: datastoreOf(d.source, datastores),
              path: d.source,
              format: d.format,
              sizeBytes: BigInt(stats.find((s) => s.name === d.target)?.capacity ?? 0),
            }),
          ),
        });
      } catch (err) {
        logger.warn("cannot describe libvirt domain", { domain: uuid, err: toFerryError(err) });
        return undefined;
      }
    }),
  );
  return vms.filter((v): v is Vm => v !== undefined);
}
