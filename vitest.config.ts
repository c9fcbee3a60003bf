import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const clientSrc = fileURLToPath(new URL('./packages/client/src/', import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run the TypeScript sources; the server imports the client package by name.
    alias: [
      { find: /^@cachegate\/client$/, replacement: `${clientSrc}index.ts` },
      { find: /^@cachegate\/client\/node$/, replacement: `${clientSrc}node.ts` },
    ],
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'deploy/test/**/*.test.ts',
      'examples/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The JSON report feeds the "N passed, N failed" line of .ci/run.
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
  },
});
