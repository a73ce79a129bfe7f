#!/usr/bin/env node
import { isFerryError } from "@ferry/common";
import { loadMoverConfig } from "./config.js";
import { startMover } from "./mover.js";

// `ferry-mover --config <file>`: run the mover agent until SIGINT/SIGTERM.
async function main(argv: string[]): Promise<void> {
  const i = argv.indexOf("--config");
  const path = i >= 0 ? argv[i + 1] : undefined;
  if (!path || argv.includes("--help")) {
    process.stderr.write("usage: ferry-mover --config <mover.json>\n");
    process.exitCode = path ? 0 : 2;
    return;
  }
  const config = await loadMoverConfig(path);
  const mover = await startMover(config);
  const stop = () => void mover.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`ferry-mover: ${isFerryError(err) ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
