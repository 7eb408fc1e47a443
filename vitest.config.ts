import { defineConfig } from "vitest/config";

// Unit tests sit next to the code and run in parallel; integration tests (test/ folders) share
// real engines started once by the global setup and run one file at a time.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "services/*/src/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: [
            "packages/*/test/**/*.test.ts",
            "services/*/test/**/*.test.ts",
            "test/**/*.test.ts",
          ],
          globalSetup: ["packages/testkit/src/global-setup.ts"],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
