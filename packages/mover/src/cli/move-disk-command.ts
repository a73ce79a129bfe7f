import { FerryError, type ParsedArgs } from "@ferry/common";
import { moveDiskLive } from "../hypervisor/move-disk-live.js";
import { connectQmp } from "../hypervisor/qmp-client.js";
import { flag } from "./commands.js";

/**
 * `move-disk --qmp <socket> --node <name> --to <image.qcow2> [--overwrite]`: copies a running VM's disk
 * (say, one booted from `export` for instant recovery) to a new qcow2 image and switches the
 * VM over to it; then the export can stop.
 */
export async function moveDiskCommand(args: ParsedArgs, signal: AbortSignal): Promise<void> {
  const nodeName = flag(args, "node") as string;
  const target = flag(args, "to") as string;
  await using qmp = await connectQmp({ path: flag(args, "qmp") as string, signal });
  const nodes =
    await qmp.execute<{ "node-name": string; image?: { "virtual-size"?: number } }[]>(
      "query-named-block-nodes",
    );
  const sizeBytes = nodes.find((n) => n["node-name"] === nodeName)?.image?.["virtual-size"];
  if (sizeBytes === undefined)
    throw new FerryError(
      "NOT_FOUND",
      `the VM has no block node ${JSON.stringify(nodeName)} (nodes: ${nodes.map((n) => n["node-name"]).join(", ")})`,
    );
  const started = Date.now();
  const moved = await moveDiskLive({
    qmp,
    nodeName,
    target,
    sizeBytes,
    overwrite: args.flags.has("overwrite"),
    signal,
  });
  process.stdout.write(
    `moved ${nodeName} to ${target} in ${((Date.now() - started) / 1000).toFixed(1)} s; the VM now runs on node ${moved.nodeName}\n`,
  );
}
