import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The default reporter, then one line per failure at the very end (./test/harness/failure-summary.ts).
    reporters: ["default", "./test/harness/failure-summary.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["src/**/*.test.ts", "hack/**/*.test.ts", "examples/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          // *.slow.test.ts need more than `make test` builds (a second Kubernetes release): `make bench` runs them.
          exclude: ["test/**/*.slow.test.ts"],
          environment: "node",
          globalSetup: ["test/harness/global-setup.ts"],
          // Tests share one meta-cluster; running files one after another keeps the 2-core machine honest.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: "slow",
          include: ["test/**/*.slow.test.ts"],
          environment: "node",
          globalSetup: ["test/harness/global-setup.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
