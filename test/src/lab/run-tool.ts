// One implementation of "run a tool, name its Debian package when missing": the mover's.
export { runCommand as runTool } from "@ferry/mover";
