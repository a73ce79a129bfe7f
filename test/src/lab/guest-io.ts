// Writing inside a lab guest through its agent, as an application in the VM would.
import { connectGuestAgent } from "@ferry/mover";

const PIECE = 256 * 1024;

/** Overwrites `data` at `offset` of an existing guest file, then syncs the guest's filesystems. */
export async function guestWrite(
  agentSocket: string,
  path: string,
  offset: number,
  data: Uint8Array,
): Promise<void> {
  await using agent = await connectGuestAgent({ path: agentSocket });
  const handle = await agent.execute<number>("guest-file-open", { path, mode: "r+" });
  try {
    await agent.execute("guest-file-seek", { handle, offset, whence: "set" });
    for (let at = 0; at < data.length; at += PIECE) {
      const piece = Buffer.from(data.subarray(at, Math.min(data.length, at + PIECE)));
      await agent.execute("guest-file-write", { handle, "buf-b64": piece.toString("base64") });
    }
    await agent.execute("guest-file-flush", { handle });
  } finally {
    await agent.execute("guest-file-close", { handle });
  }
  // A freeze flushes every dirty page and the journal to the disk; thaw at once.
  await agent.freeze();
  await agent.thaw();
}

/** Reads a whole guest file through the agent. */
export async function guestReadFile(agentSocket: string, path: string): Promise<Buffer> {
  await using agent = await connectGuestAgent({ path: agentSocket });
  const handle = await agent.execute<number>("guest-file-open", { path, mode: "r" });
  try {
    const parts: Buffer[] = [];
    for (;;) {
      const piece = await agent.execute<{ "buf-b64": string; eof: boolean }>("guest-file-read", {
        handle,
        count: PIECE,
      });
      parts.push(Buffer.from(piece["buf-b64"], "base64"));
      if (piece.eof) return Buffer.concat(parts);
    }
  } finally {
    await agent.execute("guest-file-close", { handle });
  }
}

/**
 * Files the guest's workload (test/lab/guest/workload.sh) has listed in its checksums on the
 * disk mounted at `mount`; 0 before it has made the list.
 */
export async function workloadFilesListed(agentSocket: string, mount: string): Promise<number> {
  const sums = await guestReadFile(agentSocket, `${mount}/ferry-workload/SHA256SUMS`).catch(() =>
    Buffer.alloc(0),
  );
  return sums.toString("utf8").split("\n").filter(Boolean).length;
}

/** Creates (or truncates) a guest file with `data`, then flushes the guest's filesystems. */
export async function guestCreateFile(
  agentSocket: string,
  path: string,
  data: Uint8Array,
): Promise<void> {
  {
    await using agent = await connectGuestAgent({ path: agentSocket });
    const handle = await agent.execute<number>("guest-file-open", { path, mode: "w" });
    await agent.execute("guest-file-close", { handle });
  }
  await guestWrite(agentSocket, path, 0, data);
}
