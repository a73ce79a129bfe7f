#!/usr/bin/env node
// Bundles the CLIs from the tsc build: ferry-mover (and its chunk worker) into
// packages/mover/dist/bundle/, ferry into packages/coordinator/dist/bundle/. Why: Node 20
// loads ESM module by module (resolve, read, compile each), and a mover backup loaded about
// 100 of Ferry's modules, an operator command 140: 100-300 ms per command before any work.
// One file per command loads in a fraction of that, with what it does not use left out.
// npm packages stay external (native addons, the lazily loaded S3 SDK); each bundle sits at
// the same depth as the files it replaces, so paths relative to them (the console's files,
// the lab guest) still resolve.
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

async function bundle(pkg, entries) {
  const outdir = join(root, "packages", pkg, "dist/bundle");
  // Chunk names carry hashes: a rebuild would leave the old ones beside the new.
  await rm(outdir, { recursive: true, force: true });
  await build({
    entryPoints: [
      ...entries.map((e) => join(root, "packages", pkg, "dist", e)),
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
}

await bundle("mover", ["main.js"]);
await bundle("coordinator", ["cli/main.js"]);
