import { join } from "node:path";
import type { Repository } from "@ferry/common";
import {
  type ExportDevice,
  type NbdServer,
  openRestorePointDisk,
  startNbdServer,
} from "@ferry/mover";
import { ensureGuestImage } from "./guest-image.js";
import { type LabVm, startLabVm } from "./lab-vm.js";

/** A lab VM running from a restore point's first disk, served writable over NBD. */
export interface InstantBoot extends AsyncDisposable {
  readonly vm: LabVm;
  readonly device: ExportDevice;
  readonly server: NbdServer;
}

/**
 * Instant recovery in the lab: serves `disk0` of a restore point over NBD (writes to an
 * overlay in `dir`) and boots a lab VM from it; resolves once its guest agent answers.
 * Disposing stops the VM, the server and the device, in that order.
 */
export async function bootFromRestorePoint(o: {
  repository: Repository;
  restorePointId: string;
  name: string;
  dir: string;
}): Promise<InstantBoot> {
  const device = await openRestorePointDisk({
    repository: o.repository,
    restorePointId: o.restorePointId,
    diskId: "disk0",
    writable: true,
    overlayDir: o.dir,
  });
  const socket = join(o.dir, `${o.name}.sock`);
  let server: NbdServer | undefined;
  try {
    server = await startNbdServer({
      exports: [{ name: "disk0", device }],
      listen: { path: socket },
    });
    const vm = await startLabVm({
      name: o.name,
      dir: join(o.dir, o.name),
      guest: await ensureGuestImage(),
      disks: [{ nbdSocket: socket, exportName: "disk0" }],
      workload: false,
    });
    const started = server;
    return {
      vm,
      device,
      server: started,
      [Symbol.asyncDispose]: async () => {
        await vm.stop();
        await started.close();
        await device.close();
      },
    };
  } catch (err) {
    await server?.close();
    await device.close();
    throw err;
  }
}
