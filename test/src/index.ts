// Test infrastructure shared by the scenarios in test/ and the lab demo.

export { type Rgw, type RgwOptions, startRgw } from "./lab/ceph-rgw.js";
export { type LabChild, spawnChild } from "./lab/child.js";
export { type DataDiskOptions, makeDataDisk } from "./lab/data-disk.js";
export { ensureGuestImage, type GuestImage } from "./lab/guest-image.js";
export { type Lab, type LabOptions, SEED_FILES, startLab } from "./lab/lab.js";
export { type LabDisk, type LabVm, type LabVmOptions, startLabVm } from "./lab/lab-vm.js";
export { type NatsServer, startNatsServer } from "./lab/nats-server.js";
export { REPO_ROOT } from "./lab/paths.js";
export { runTool } from "./lab/run-tool.js";
