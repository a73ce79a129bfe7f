import { fileURLToPath } from "node:url";

/** The repository root (this file lives in test/src/lab or test/dist/lab). */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Where the built micro guest is cached. */
export const GUEST_DIR = `${REPO_ROOT}.cache/guest`;
