// Where Ferry's native addons (native/build/*.node) are found: through the package's own name,
// so the same code finds them from dist/, from src/ under the tests, and from the mover's
// bundle (packages/mover/dist/bundle/), whose relative path to native/ differs.
import { createRequire } from "node:module";

/** Loads `native/build/<name>.node` of @ferry/common; throws what require threw. */
export function requireAddon(name: string): unknown {
  return createRequire(import.meta.url)(`@ferry/common/native/${name}.node`);
}
