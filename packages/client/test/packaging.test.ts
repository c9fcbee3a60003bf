import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The built package as consumers load it: by name, through the exports map, from CommonJS and from ESM.
 * Needs `npm run build` (npm test runs it first). `npm run check:exports` runs attw on the packed tarball.
 */
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

function runNode(type: 'commonjs' | 'module', code: string): unknown {
  const result = spawnSync(process.execPath, [`--input-type=${type}`, '-e', code], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`node exited ${result.status}:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

const PROBE = `({
  index: Object.keys(index).sort(),
  node: Object.keys(node).sort(),
  encoded: index.encodeValue('42'),
  sameErrors: node.CachegateError === index.CachegateError,
})`;

describe('the built package', () => {
  it('has been built (run npm run build)', () => {
    for (const file of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/node.js',
      'dist/cjs/index.js',
      'dist/cjs/package.json',
    ]) {
      expect(existsSync(`${packageDir}${file}`), file).toBe(true);
    }
  });

  it('require() resolves both entries to the CommonJS build', () => {
    const result = runNode(
      'commonjs',
      `const index = require('@cachegate/client'); const node = require('@cachegate/client/node');
       console.log(JSON.stringify({ ...${PROBE}, file: require.resolve('@cachegate/client/node') }));`,
    ) as Record<string, unknown>;
    expect(result.file).toMatch(/dist[/\\]cjs[/\\]node\.js$/);
    expect(result.index).toEqual(
      expect.arrayContaining(['Cachegate', 'CachegateError', 'getCache', 'encodeValue']),
    );
    expect(result.node).toEqual(
      expect.arrayContaining(['createHybridClient', 'RedisTransport', 'closeCache', 'Cachegate']),
    );
    expect(result.encoded).toBe('"42"');
    expect(result.sameErrors).toBe(true);
  });

  it('import resolves both entries to the ESM build', () => {
    const result = runNode(
      'module',
      `import * as index from '@cachegate/client'; import * as node from '@cachegate/client/node';
       console.log(JSON.stringify({ ...${PROBE}, file: import.meta.resolve('@cachegate/client') }));`,
    ) as Record<string, unknown>;
    expect(result.file).toMatch(/dist\/index\.js$/);
    expect(result.index).toEqual(expect.arrayContaining(['Cachegate', 'isServiceAvailable', 'decodeValue']));
    expect(result.node).toEqual(expect.arrayContaining(['createHybridClient', 'HybridClient']));
    expect(result.sameErrors).toBe(true);
  });
});
