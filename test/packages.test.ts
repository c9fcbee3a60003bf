import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Packed, packAll, repo, run } from './helpers/pack.js';

/**
 * What `npm publish` would upload, checked from the tarballs themselves: the files, the manifest fields a
 * registry page and a consumer's resolver read, source maps, README links, and the verdicts of publint and
 * @arethetypeswrong/cli (attw).
 */

let packs: ReturnType<typeof packAll>;
let scratch: string;
/** Where each tarball is unpacked (its files under `package/`). */
const unpacked: Record<string, string> = {};

beforeAll(() => {
  packs = packAll();
  scratch = mkdtempSync(join(tmpdir(), 'cachegate-unpacked-'));
  for (const pack of Object.values(packs)) {
    const dir = join(scratch, pack.name.replace('/', '-'));
    run('mkdir', ['-p', dir]);
    run('tar', ['xzf', pack.tarball, '-C', dir]);
    unpacked[pack.name] = join(dir, 'package');
  }
}, 120_000);
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  if (packs) rmSync(dirname(packs.client.tarball), { recursive: true, force: true });
});

const read = (pack: Packed, path: string) => readFileSync(join(unpacked[pack.name] as string, path), 'utf8');
const manifest = (pack: Packed) => JSON.parse(read(pack, 'package.json'));

/** Every file path a manifest points at: main, types, module, bin, and every target of the exports map. */
function entryPoints(pkg: Record<string, unknown>): string[] {
  const targets: string[] = [];
  const walk = (value: unknown) => {
    if (typeof value === 'string') targets.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk([pkg.main, pkg.types, pkg.module, pkg.bin, pkg.exports]);
  return targets.map((target) => posix.normalize(target));
}

describe.each(['client', 'server'] as const)('the %s tarball', (which) => {
  const pack = () => packs[which];

  it('carries README, LICENSE (the repository MIT licence) and the fields a registry and a resolver read', () => {
    const pkg = manifest(pack());
    expect(pack().files).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json']));
    expect(read(pack(), 'LICENSE')).toBe(readFileSync(join(repo, 'LICENSE'), 'utf8'));
    expect(pkg.license).toBe('MIT');
    expect(read(pack(), 'LICENSE')).toMatch(/^MIT License/);
    expect(pkg.repository).toEqual({
      type: 'git',
      url: expect.stringMatching(/^git\+https:\/\/github\.com\/.+\.git$/),
      directory: `packages/${which}`,
    });
    expect(pkg.homepage).toMatch(/^https:\/\//);
    expect(pkg.engines).toEqual({ node: '>=20' });
    expect(pkg.exports?.['.']).toBeDefined();
    expect(pkg.files).toEqual(expect.any(Array));
    expect(pkg.publishConfig).toEqual({ access: 'public' });
    if (which === 'server') expect(pkg.bin).toEqual({ cachegate: 'bin/cachegate.js' });
  });

  it('contains every file its manifest points at, and no tests, build state or secrets', () => {
    const files = pack().files;
    for (const target of entryPoints(manifest(pack()))) expect(files, target).toContain(target);
    const unwanted = files.filter((path) =>
      /(^|\/)(test|node_modules)\/|\.test\.[jt]s$|\.tsbuildinfo$|(^|\/)\.env|\.pem$|^tsconfig/.test(path),
    );
    expect(unwanted).toEqual([]);
  });

  it('ships no build output without its source: every compiled module has its .ts beside it in src/', () => {
    const files = new Set(pack().files);
    const modules = [...files].filter((path) => /^dist\/(?!cjs\/).*\.js$/.test(path));
    expect(modules.length).toBeGreaterThan(10);
    for (const path of modules)
      expect(files, path).toContain(path.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'));
  });

  it('ships the sources its source maps name, so that the maps resolve inside the package', () => {
    const maps = pack().files.filter((path) => path.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(10);
    const files = new Set(pack().files);
    for (const map of maps) {
      const { sources } = JSON.parse(read(pack(), map)) as { sources: string[] };
      for (const source of sources)
        expect(files, `${map} -> ${source}`).toContain(posix.join(posix.dirname(map), source));
    }
  });

  it('links its README only to absolute URLs, which work on the registry page', () => {
    const links = [...read(pack(), 'README.md').matchAll(/\]\(([^)\s]+)/g)].map((m) => m[1] as string);
    expect(links.length).toBeGreaterThan(2);
    expect(links.filter((link) => !/^(https:\/\/|#)/.test(link))).toEqual([]);
  });

  it('passes publint (strict: warnings fail too)', () => {
    const output = run('npx', [
      '--no-install',
      'publint',
      'run',
      '--strict',
      '--level',
      'suggestion',
      pack().tarball,
    ]);
    expect(output).toContain('All good!');
  });

  it('passes @arethetypeswrong/cli for every entry point and module resolution it supports', () => {
    // The server is ESM only (a CLI and buildApp for ESM callers): attw's esm-only profile skips the
    // CommonJS resolutions; the client ships both and is held to every resolution.
    const profile = which === 'server' ? ['--profile', 'esm-only'] : [];
    // attw exits non-zero on any problem its profile counts (run() throws then).
    const report = JSON.parse(
      run('npx', ['--no-install', 'attw', ...profile, '--format', 'json', pack().tarball]),
    ) as { analysis: { problems: { resolutionKind?: string }[]; entrypoints: Record<string, unknown> } };
    const counted = report.analysis.problems.filter(
      (problem) => which === 'client' || !['node10', 'node16-cjs'].includes(problem.resolutionKind ?? ''),
    );
    expect(counted).toEqual([]);
    const expected = which === 'client' ? ['.', './node', './package.json'] : ['.', './package.json'];
    expect(Object.keys(report.analysis.entrypoints).sort()).toEqual(expected);
  });
});
