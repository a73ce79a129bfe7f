// Where Ferry's native addons (native/build/*.node) are found: through the package's own name,
// so the same code finds them from dist/, from src/ under the tests, and from the mover's
// bundle (packages/mover/dist/bundle/), whose relative path to native/ differs.
import { createRequire } from "node:module";
import { FerryError } from "../errors/ferry-error.js";

/** Loads `native/build/<name>.node` of @ferry/common; throws what require threw. */
export function requireAddon(name: string): unknown {
  return createRequire(import.meta.url)(`@ferry/common/native/${name}.node`);
}

/**
 * A loader of an addon that its callers cannot do without: it loads on first use (commands
 * that never need it never load it) and throws TOOL_MISSING naming `what` and the fix when
 * the addon is not built. `needs`: what building it takes.
 */
export function requiredAddon<T>(name: string, what: string, needs: string): () => T {
  let addon: T | undefined;
  return () => {
    if (addon) return addon;
    try {
      addon = requireAddon(name) as T;
      return addon;
    } catch (err) {
      throw new FerryError(
        "TOOL_MISSING",
        `${what} (packages/common/native) is not built: run ./scripts/setup.sh (it needs ${needs}): ${(err as Error).message}`,
        { cause: err },
      );
    }
  };
}
