// The guest agent of a libvirt domain, reached through libvirt (QEMU's agent socket is
// libvirt's alone). Freeze and thaw use libvirt's own API (virDomainFSFreeze/FSThaw).
import { FerryError } from "@ferry/common";
import type {
  FreezeStatus,
  GuestAgent,
  GuestAgentCallOptions,
} from "../hypervisor/guest-agent-client.js";
import type { Virsh } from "./virsh.js";

const DEFAULT_TIMEOUT_MS = 10_000;

/** A GuestAgent over virsh for one domain. Nothing stays open: close is a no-op. */
export function libvirtGuestAgent(virsh: Virsh, domain: string): GuestAgent {
  const call = (args: string[], o: GuestAgentCallOptions = {}) =>
    virsh.run(args, {
      domain,
      timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(o.signal ? { signal: o.signal } : {}),
    });
  const agent: GuestAgent = {
    async execute<T>(command: string, args?: Record<string, unknown>, o?: GuestAgentCallOptions) {
      const timeoutMs = o?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      // libvirt's own agent timeout, whole seconds, so libvirt too stops waiting.
      const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
      const out = await call(
        [
          "qemu-agent-command",
          domain,
          "--timeout",
          seconds,
          JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) }),
        ],
        { ...o, timeoutMs: timeoutMs + 2000 },
      );
      let reply: unknown;
      try {
        reply = JSON.parse(out);
      } catch (err) {
        throw new FerryError("PROTOCOL_ERROR", `guest agent of ${domain}: reply is not JSON`, {
          cause: err,
        });
      }
      if (typeof reply !== "object" || reply === null || !("return" in reply))
        throw new FerryError("GUEST_AGENT_ERROR", `guest agent of ${domain}: no return in reply`);
      return (reply as { return: T }).return;
    },
    async ping(o) {
      await agent.execute("guest-ping", undefined, o);
    },
    async freeze(o) {
      return countOf(await call(["domfsfreeze", domain], o));
    },
    async thaw(o) {
      return countOf(await call(["domfsthaw", domain], o));
    },
    async freezeStatus(o): Promise<FreezeStatus> {
      const status = await agent.execute<string>("guest-fsfreeze-status", undefined, o);
      if (status !== "thawed" && status !== "frozen")
        throw new FerryError("PROTOCOL_ERROR", `guest agent of ${domain}: freeze status ${status}`);
      return status;
    },
    close: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  };
  return agent;
}

// "Froze 1 filesystem(s)" / "Thawed 1 filesystem(s)": only the count is read.
function countOf(out: string): number {
  const m = /(\d+) filesystem/.exec(out);
  return m ? Number(m[1]) : 0;
}
