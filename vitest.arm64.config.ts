import { defineConfig } from 'vitest/config';

/** `npm run test:arm64` (issue 16): the emulated arm64 lane, kept out of `npm test` (it takes far longer than CI allows). */
export default defineConfig({
  test: {
    include: ['test/arm64/**/*.spec.ts'],
    globalSetup: ['test/arm64/global-setup.ts'],
    testTimeout: 40 * 60_000,
    hookTimeout: 40 * 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
