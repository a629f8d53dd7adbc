import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS and ESM builds. Node (and so Yoga and Pothos) loads the
    // CommonJS one; our code must get the same copy, or GraphQLError has two classes.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.spec.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Memory assertions collect garbage first, so they measure what is held, not what is pending.
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      // The dashboard's page runs in the browser: its tests are test/dashboard.test.ts, in Chromium.
      exclude: ['src/generated/**', 'src/**/*.spec.ts', 'src/dashboard/page/**'],
      reporter: ['text-summary', 'text'],
      thresholds: { lines: 90 },
    },
  },
});
