#!/usr/bin/env node
// Bundles the ferry-mover CLI (and its chunk worker) from the tsc build into
// packages/mover/dist/bundle/. Why: Node 20 loads ESM module by module (resolve, read, compile
// each), and a backup or restore loads about 100 of Ferry's: 100-150 ms per command before
// the first byte moves, paid by every CLI backup and restore. One file per command loads in
// a fraction of that. npm packages stay external (native addons, lazy S3 SDK).
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Bare imports other than Ferry's own packages are loaded from node_modules at run time. */
const npmExternal = {
  name: "npm-external",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith("@ferry/") ? undefined : { path: args.path, external: true },
    );
  },
};

const outdir = join(root, "packages/mover/dist/bundle");
// Chunk names carry hashes: a rebuild would leave the old ones beside the new.
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: [
    join(root, "packages/mover/dist/main.js"),
    // The pool starts it as ./chunk-worker.js beside its own code: one flat directory.
    join(root, "packages/common/dist/repository/chunk-worker.js"),
  ],
  outdir,
  entryNames: "[name]",
  chunkNames: "[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Chains the tsc build's maps: stack traces name the TypeScript sources.
  sourcemap: true,
  // Stack traces need the mappings only; embedded sources would triple what each start parses.
  sourcesContent: false,
  plugins: [npmExternal],
  logLevel: "warning",
});
