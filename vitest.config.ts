import { defineConfig } from "vitest/config";

// Two projects: fast specs beside the code, and scenarios against real
// QEMU VMs, nats-server and friends in test/.
export default defineConfig({
  test: {
    // Lab files boot their own VMs under TCG; on two cores run files one at a time.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts"],
          testTimeout: 20_000,
          // Encrypted repositories with scrypt at its weakest accepted cost (repository-key.ts).
          env: { FERRY_TESTONLY_WEAKEN_KDF: "1" },
        },
      },
      {
        test: {
          name: "lab",
          include: ["test/src/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
