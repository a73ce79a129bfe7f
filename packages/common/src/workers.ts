// Only the chunk worker pools, for an entry point that starts the workers before it loads the
// rest of a command (a worker takes 50-90 ms to boot: it overlaps the command's loading).
// Import it as "@ferry/common/workers".
export { warmChunkWorkers } from "./repository/chunk-work-pool.js";
