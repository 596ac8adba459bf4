/**
 * The test suite: unit tests of the pure core and config, and integration tests against real
 * nodes, real SQLite files and the built CLI. Run from the repository root with
 * `npx vitest run --config test/vitest.config.ts`.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    // Only the TypeScript sources: dist/ holds compiled copies of the tests.
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Integration tests start nodes, open databases and spawn the CLI: generous, not timing-based.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
