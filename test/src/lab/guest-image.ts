import { access } from "node:fs/promises";
import { FerryError } from "@ferry/common";
import { GUEST_DIR, REPO_ROOT } from "./paths.js";
import { runTool } from "./run-tool.js";

/** The micro guest's kernel and initramfs. */
export interface GuestImage {
  kernel: string;
  initrd: string;
}

/**
 * Returns the cached micro guest, building it first when missing or stale
 * (test/lab/guest/build-guest.sh is idempotent and quick when up to date).
 */
export async function ensureGuestImage(signal?: AbortSignal): Promise<GuestImage> {
  await runTool("bash", [`${REPO_ROOT}test/lab/guest/build-guest.sh`, GUEST_DIR], {
    debianPackage: "bash",
    ...(signal ? { signal } : {}),
  });
  const image = { kernel: `${GUEST_DIR}/vmlinuz`, initrd: `${GUEST_DIR}/initrd.img` };
  for (const file of Object.values(image)) {
    await access(file).catch(() => {
      throw new FerryError(
        "FAILED_PRECONDITION",
        `micro guest file ${file} is missing after the build`,
      );
    });
  }
  return image;
}
