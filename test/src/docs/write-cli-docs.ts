#!/usr/bin/env node
// Writes docs/cli.md from the command tables (pnpm docs:cli).
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT } from "../lab/paths.js";
import { cliDocs } from "./cli-docs.js";

const path = join(REPO_ROOT, "docs/cli.md");
await writeFile(path, cliDocs());
console.log(`wrote ${path}`);
