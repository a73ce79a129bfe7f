import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FerryError, sleep, withDeadline } from "@ferry/common";
import type { VmRef } from "@ferry/mover";
import type { GuestImage } from "./guest-image.js";
import type { LabLibvirtd } from "./libvirtd.js";

/** Options of {@link defineMicroDomain}. */
export interface MicroDomainOptions {
  libvirtd: LabLibvirtd;
  name: string;
  /** Directory for its definition and serial console log. */
  dir: string;
  guest: GuestImage;
  /** qcow2 data disks, attached as vda, vdb. */
  disks: string[];
  /** Run the guest's writing workload (default true). */
  workload?: boolean;
  tags?: string[];
  /** A user-mode network card (its MAC shows a restore made a new one). */
  nic?: boolean;
}

/** A libvirt domain of the micro guest. */
export interface MicroDomain {
  readonly name: string;
  readonly uuid: string;
  readonly consoleLog: string;
  /** The VM as a mover with the libvirt adapter names it. */
  ref(): VmRef;
  /** Starts it and resolves once its guest agent answers through libvirt. */
  start(timeoutMs?: number): Promise<void>;
  /** Powers it off hard (virsh destroy). */
  destroy(): Promise<void>;
}

/** The domain XML of the micro guest: TCG, direct kernel boot, guest agent channel. */
export function microDomainXml(o: MicroDomainOptions, consoleLog: string): string {
  const targets = ["vda", "vdb", "vdc", "vdd"];
  const disks = o.disks.map(
    (path, i) =>
      `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${path}'/><target dev='${targets[i]}' bus='virtio'/></disk>`,
  );
  const tags = (o.tags ?? []).map((t) => `<tag>${t}</tag>`).join("");
  return `<domain type='qemu'>
  <name>${o.name}</name>
  <metadata><ferry:tags xmlns:ferry='https://ferry.dev/xmlns/libvirt/1'>${tags}</ferry:tags></metadata>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${o.guest.kernel}</kernel>
    <initrd>${o.guest.initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 ferry.workload=${o.workload === false ? 0 : 1}</cmdline>
  </os>
  <cpu mode='maximum'/>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    ${disks.join("\n    ")}
    ${o.nic ? "<interface type='user'><model type='virtio'/><rom enabled='no'/></interface>" : ""}
    <serial type='file'><source path='${consoleLog}'/><target port='0'/></serial>
    <channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/** Defines (persistently) the micro guest as a libvirt domain; it is not started. */
export async function defineMicroDomain(o: MicroDomainOptions): Promise<MicroDomain> {
  const consoleLog = join(o.dir, `${o.name}.console.log`);
  const xmlPath = join(o.dir, `${o.name}.xml`);
  await writeFile(xmlPath, microDomainXml(o, consoleLog));
  const virsh = o.libvirtd.virsh;
  await virsh.run(["define", xmlPath], { domain: o.name });
  return attachMicroDomain(o.libvirtd, o.name, consoleLog);
}

/**
 * A handle on a defined domain of the micro guest (one a restore defined, say) whose serial
 * console is written to `consoleLog`.
 */
export async function attachMicroDomain(
  libvirtd: LabLibvirtd,
  name: string,
  consoleLog: string,
): Promise<MicroDomain> {
  const virsh = libvirtd.virsh;
  const uuid = (await virsh.run(["domuuid", name], { domain: name })).trim();
  return {
    name,
    uuid,
    consoleLog,
    ref: () => ({ id: uuid, name, qmpSocket: "" }),
    async start(timeoutMs = 90_000) {
      // A fresh console log: the ready line must be this boot's.
      await writeFile(consoleLog, "");
      await virsh.run(["start", name], { domain: name });
      await waitForMicroGuest(libvirtd, name, consoleLog, timeoutMs);
    },
    async destroy() {
      await virsh.run(["destroy", name], { domain: name });
    },
  };
}

/**
 * Waits until a started domain of the micro guest is up: the ready line on its console and
 * its guest agent answering through libvirt.
 */
export async function waitForMicroGuest(
  libvirtd: LabLibvirtd,
  name: string,
  consoleLog: string,
  timeoutMs = 90_000,
): Promise<void> {
  const virsh = libvirtd.virsh;
  using deadline = withDeadline(undefined, timeoutMs, `booting libvirt domain ${name}`);
  let last: unknown;
  while (!deadline.signal.aborted) {
    const console = await readFile(consoleLog, "utf8").catch(() => "");
    if (console.includes("FERRY-GUEST-READY")) {
      try {
        await virsh.run(
          ["qemu-agent-command", name, "--timeout", "2", '{"execute":"guest-ping"}'],
          { domain: name, timeoutMs: 5000 },
        );
        return;
      } catch (err) {
        last = err;
      }
    }
    await sleep(200, deadline.signal).catch(() => undefined);
  }
  const console = await readFile(consoleLog, "utf8").catch(() => "");
  throw new FerryError(
    "DEADLINE_EXCEEDED",
    `libvirt domain ${name} did not boot in ${timeoutMs} ms:\n${console.slice(-3000)}`,
    { cause: last },
  );
}

/** Calls the guest agent of a running domain through libvirt. */
export async function libvirtAgent<T>(
  libvirtd: LabLibvirtd,
  name: string,
  execute: string,
  args: Record<string, unknown>,
): Promise<T> {
  const out = await libvirtd.virsh.run(
    ["qemu-agent-command", name, "--timeout", "10", JSON.stringify({ execute, arguments: args })],
    { domain: name },
  );
  return (JSON.parse(out) as { return: T }).return;
}

/** Reads a (small) guest file through libvirt's agent access. */
export async function guestCat(libvirtd: LabLibvirtd, name: string, path: string): Promise<string> {
  const handle = await libvirtAgent<number>(libvirtd, name, "guest-file-open", { path, mode: "r" });
  try {
    const read = await libvirtAgent<{ "buf-b64": string }>(libvirtd, name, "guest-file-read", {
      handle,
      count: 65536,
    });
    return Buffer.from(read["buf-b64"], "base64").toString("utf8");
  } finally {
    await libvirtAgent(libvirtd, name, "guest-file-close", { handle });
  }
}

/** Creates a guest file as an application would, then flushes it to the disk (freeze, thaw). */
export async function guestPut(
  libvirtd: LabLibvirtd,
  name: string,
  path: string,
  text: string,
): Promise<void> {
  const handle = await libvirtAgent<number>(libvirtd, name, "guest-file-open", { path, mode: "w" });
  try {
    await libvirtAgent(libvirtd, name, "guest-file-write", {
      handle,
      "buf-b64": Buffer.from(text).toString("base64"),
    });
  } finally {
    await libvirtAgent(libvirtd, name, "guest-file-close", { handle });
  }
  await libvirtd.virsh.run(["domfsfreeze", name], { domain: name });
  await libvirtd.virsh.run(["domfsthaw", name], { domain: name });
}
