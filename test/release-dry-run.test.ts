import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, repo, run } from './helpers/pack.js';

/**
 * scripts/release-dry-run.sh, the release workflow's checks run locally, in a copy of the checkout: it
 * rebuilds from clean, which must not pull the build output from under the tests running beside this one.
 * The image step (the Dockerfile's stages outside Docker) is the builder deploy/test/dockerfile.test.ts runs,
 * so it is skipped here rather than run twice.
 */

let copy: string;
beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), 'cachegate-release-'));
  const files = run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z']).split('\0');
  for (const path of files.filter((path) => path !== '')) {
    mkdirSync(dirname(join(copy, path)), { recursive: true });
    cpSync(join(repo, path), join(copy, path));
  }
  // The installed dependencies, shared: npm ci here would take longer than the rest of the test.
  symlinkSync(join(repo, 'node_modules'), join(copy, 'node_modules'));
});
afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true });
});

const dryRun = (...args: string[]) =>
  spawnSync(join(copy, 'scripts', 'release-dry-run.sh'), ['--skip-image', ...args], {
    cwd: copy,
    env: cleanEnv(),
    encoding: 'utf8',
    timeout: 180_000,
  });

describe('scripts/release-dry-run.sh', () => {
  // A clean build of both packages takes tens of seconds on a loaded machine, past the default 30 s.
  it('builds from clean and dry-runs npm publish of both packages at the tagged version', () => {
    const version = JSON.parse(
      run('node', ['-p', 'JSON.stringify(require("./packages/client/package.json").version)']),
    );
    const result = dryRun('--tag', `v${version}`);
    expect(result.stderr).not.toContain('auto-corrected');
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`+ @cachegate/client@${version}`);
    expect(result.stdout).toContain(`+ @cachegate/server@${version}`);
    expect(result.stdout).toContain('(dry-run)');
    expect(result.stdout.trim().split('\n').at(-1)).toBe('release dry run: ok');
  }, 180_000);

  it('refuses a tag that does not name the version, before building anything', () => {
    const result = dryRun('--tag', 'v99.0.0');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/tag v99\.0\.0 does not name the packages' version v\d/);
  });

  it('refuses a server that depends on the SDK again: its tarball would not install alone', () => {
    const manifest = join(copy, 'packages', 'server', 'package.json');
    const original = readFileSync(manifest, 'utf8');
    try {
      writeFileSync(
        manifest,
        original.replace('"dependencies": {', '"dependencies": {\n    "@cachegate/client": "0.1.0",'),
      );
      const result = dryRun();
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('packages/server depends on @cachegate/client again');
    } finally {
      writeFileSync(manifest, original);
    }
  });

  it('refuses packages whose versions disagree', () => {
    const manifest = join(copy, 'packages', 'server', 'package.json');
    const original = readFileSync(manifest, 'utf8');
    try {
      writeFileSync(manifest, original.replace(/"version": "[^"]+"/, '"version": "99.0.0"'));
      const result = dryRun();
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/versions disagree: client \S+, server 99\.0\.0/);
    } finally {
      writeFileSync(manifest, original);
    }
  });
});
