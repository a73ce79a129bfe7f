import { readdir } from "node:fs/promises";
import { connectQmp } from "@ferry/mover";

/** What a backup may leave behind in QEMU and on the datastore. */
export interface Leftovers {
  nodes: string[];
  exports: string[];
  jobs: string[];
  overlays: string[];
}

/** Lists every Ferry-made block node, export, job and overlay file of a VM. */
export async function ferryLeftovers(qmpSocket: string, datastoreDir: string): Promise<Leftovers> {
  await using qmp = await connectQmp({ path: qmpSocket });
  const nodes = await qmp.execute<{ "node-name": string }[]>("query-named-block-nodes", {
    flat: true,
  });
  const exports = await qmp.execute<{ id: string }[]>("query-block-exports");
  const jobs = await qmp.execute<{ device: string }[]>("query-block-jobs");
  return {
    nodes: nodes.map((n) => n["node-name"]).filter((n) => n.startsWith("ferry-")),
    exports: exports.map((e) => e.id),
    jobs: jobs.map((j) => j.device),
    // Overlays sit beside their disks, in any datastore under the lab's.
    overlays: (await readdir(datastoreDir, { recursive: true }))
      .filter((f) => f.includes("ferry-fleece"))
      .map((f) => f.slice(f.lastIndexOf("/") + 1)),
  };
}

/** The empty result, for assertions. */
export const NO_LEFTOVERS: Leftovers = { nodes: [], exports: [], jobs: [], overlays: [] };
