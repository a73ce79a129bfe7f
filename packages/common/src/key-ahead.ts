// Only the start of a repository key's derivation, for an entry point that begins it before
// it loads the rest of a command (the KDF then overlaps the command's loading).
// Import it as "@ferry/common/key-ahead".
export { deriveRepositoryKeyAhead } from "./repository/repository-key-ahead.js";
