import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireTool } from './helpers/tools.js';

const deployDir = fileURLToPath(new URL('../', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));

function shellScripts(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules') return [];
    if (statSync(path).isDirectory()) return shellScripts(path);
    return name.endsWith('.sh') ? [path] : [];
  });
}

// The deploy scripts, and the repository's own (scripts/: release dry run, Node versions).
const scripts = [...shellScripts(deployDir), ...shellScripts(join(repo, 'scripts'))];

describe.runIf(requireTool('shellcheck', 'shellcheck'))('shell scripts', () => {
  it('finds the GCP scripts', () => {
    expect(scripts.map((path) => relative(repo, path)).sort()).toEqual(
      expect.arrayContaining([
        'deploy/gcp/deploy.sh',
        'deploy/gcp/lib.sh',
        'deploy/gcp/setup-firewall.sh',
        'deploy/gcp/update-functions-url.sh',
        'scripts/release-dry-run.sh',
        'scripts/test-node-versions.sh',
      ]),
    );
  });

  it.each(scripts.map((path) => [relative(repo, path), path]))('%s passes shellcheck', (_name, path) => {
    // -x follows `source lib.sh`; every severity, style included, counts.
    const result = spawnSync('shellcheck', ['-x', '--severity=style', path], {
      cwd: join(path, '..'),
      encoding: 'utf8',
    });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.each(scripts.filter((path) => !path.endsWith('lib.sh')).map((path) => [relative(repo, path), path]))(
    '%s is executable and runs with set -euo pipefail',
    (_name, path) => {
      expect(statSync(path).mode & 0o111).not.toBe(0);
      const text = readFileSync(path, 'utf8');
      expect(text.startsWith('#!/usr/bin/env bash\n')).toBe(true);
      expect(text).toMatch(/^set -euo pipefail$/m);
    },
  );
});
