import { defineConfig } from "vitest/config";

// Two projects: fast specs beside the code, and scenarios against real
// QEMU VMs, nats-server and friends in test/.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "lab",
          include: ["test/src/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Each file boots its own VMs; two cores cannot run many at once.
          fileParallelism: false,
        },
      },
    ],
  },
});
