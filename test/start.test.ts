import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, repo } from './helpers/pack.js';

/**
 * `npm start` compiles only when a source changed, and then only what changed; with a fresh build it starts
 * the gateway at once. Run in a copy of the server's sources, so that the shared build output the other
 * tests use is never rebuilt under them.
 */

let copy: string;
const server = () => join(copy, 'packages', 'server');
const COMPILING = 'sources changed since the last build';

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), 'cachegate-start-'));
  for (const path of ['package.json', 'tsconfig.base.json', 'scripts/start.mjs']) {
    mkdirSync(join(copy, path, '..'), { recursive: true });
    cpSync(join(repo, path), join(copy, path));
  }
  for (const path of ['src', 'bin', 'package.json', 'tsconfig.json']) {
    cpSync(join(repo, 'packages', 'server', path), join(server(), path), { recursive: true });
  }
  symlinkSync(join(repo, 'node_modules'), join(copy, 'node_modules'));
});
afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true });
});

/** `npm start -- --version` in the copy: what a developer types, with an argument that exits at once. */
const start = () => {
  const result = spawnSync('npm', ['start', '--silent', '--', '--version'], {
    cwd: copy,
    env: cleanEnv(),
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(result.status, result.stdout + result.stderr).toBe(0);
  expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  return result;
};
const mtime = (path: string) => statSync(join(server(), path)).mtimeMs;

describe('npm start', () => {
  it('compiles a checkout that was never built, then runs the gateway', () => {
    expect(start().stderr).toContain(COMPILING);
    expect(statSync(join(server(), 'dist', 'main.js')).isFile()).toBe(true);
  }, 120_000);

  it('with the build fresh, starts without compiling anything', () => {
    const built = mtime('tsconfig.tsbuildinfo');
    expect(start().stderr).not.toContain(COMPILING);
    expect(mtime('tsconfig.tsbuildinfo')).toBe(built);
  }, 60_000);

  it('after a source change, compiles what changed and leaves the rest of dist as it was', () => {
    const untouched = mtime('dist/app.js');
    const changed = mtime('dist/version.js');
    appendFileSync(join(server(), 'src', 'version.ts'), '\n// changed by test/start.test.ts\n');
    expect(start().stderr).toContain(COMPILING);
    expect(mtime('dist/version.js')).toBeGreaterThan(changed);
    expect(mtime('dist/app.js')).toBe(untouched);
    // And the next start is immediate again.
    expect(start().stderr).not.toContain(COMPILING);
  }, 120_000);
});
