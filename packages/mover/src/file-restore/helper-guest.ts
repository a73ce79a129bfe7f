import { access } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { FerryError } from "@ferry/common";
import type { HelperGuest } from "./helper-vm.js";

// Where ./scripts/setup.sh builds the micro guest, from packages/mover/dist/file-restore.
const DEFAULT_GUEST_DIR = fileURLToPath(new URL("../../../../.cache/guest/", import.meta.url));

/**
 * The micro guest a file-level restore boots, from `dir` (default: the one setup builds);
 * FAILED_PRECONDITION when it was never built.
 */
export async function helperGuest(dir: string = DEFAULT_GUEST_DIR): Promise<HelperGuest> {
  const guest = { kernel: `${dir}/vmlinuz`, initrd: `${dir}/initrd.img` };
  for (const file of Object.values(guest))
    await access(file).catch(() => {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `the file-restore micro guest is missing (${file}): ./scripts/setup.sh builds it`,
      );
    });
  return guest;
}
