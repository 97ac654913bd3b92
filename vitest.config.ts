import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real servers, tokens and processes; two cores only.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'proxy', include: ['test/**/*.test.ts', 'conformance/test/**/*.test.ts'] },
      },
      {
        // The AWS CDK package (deploy/cdk) has its own dependencies; its global setup runs
        // `npm ci --prefix deploy/cdk` when they are missing or stale, so `npm ci && npm test`
        // on a fresh clone runs these tests too.
        extends: true,
        test: {
          name: 'cdk',
          root: 'deploy/cdk',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/support/ensure-dependencies.ts'],
        },
      },
    ],
  },
});
