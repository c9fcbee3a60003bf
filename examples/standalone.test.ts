import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, TOKENS } from '../packages/client/test/helpers/stack.js';
import { freePort } from '../packages/server/src/redis/embedded.js';
import { waitFor } from '../packages/server/test/helpers/gateway.js';
import { cleanEnv } from '../test/helpers/pack.js';

/**
 * Each example is a project of its own: its package.json names every package it imports, at a version the
 * repository's own install provides (so these tests need nothing beyond the root `npm ci`, and resolve the SDK
 * through its workspace link), it compiles with its own tsconfig, and the commands of its README run.
 * Decision 0106.
 */

const examples = fileURLToPath(new URL('./', import.meta.url));
const folders = ['cloud-function', 'edge-function'];
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

interface Manifest {
  dependencies: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts: Record<string, string>;
}
const manifestOf = (folder: string) =>
  JSON.parse(readFileSync(join(examples, folder, 'package.json'), 'utf8')) as Manifest;

/** Whether `version` satisfies `range`: an exact version, or `^x.y.z` (same major, or same minor below 1.0). */
function satisfies(version: string, range: string): boolean {
  if (!range.startsWith('^')) return version === range;
  const [major, minor, patch] = range.slice(1).split('.').map(Number) as [number, number, number];
  const [vMajor, vMinor, vPatch] = version.split('.').map(Number) as [number, number, number];
  if (vMajor !== major || (major === 0 && vMinor !== minor)) return false;
  return vMinor > minor || (vMinor === minor && vPatch >= patch);
}

/** The version of `name` that Node resolves from the example's folder: the nearest node_modules up the tree. */
function installedVersion(folder: string, name: string): string {
  for (let dir = join(examples, folder); ; dir = dirname(dir)) {
    const manifest = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(manifest))
      return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
    if (dirname(dir) === dir) throw new Error(`${name} is not installed where ${folder} finds it`);
  }
}

/** The bare module names a TypeScript source imports (no relative paths, no node: built-ins). */
function importsOf(source: string): string[] {
  return [...source.matchAll(/^\s*import\s[^'"]*['"]([^'"]+)['"]/gm)]
    .map(([, specifier]) => specifier as string)
    .filter((specifier) => !specifier.startsWith('.') && !specifier.startsWith('node:'))
    .map((specifier) =>
      specifier
        .split('/')
        .slice(0, specifier.startsWith('@') ? 2 : 1)
        .join('/'),
    );
}

describe.each(folders)('examples/%s as a project of its own', (folder) => {
  const manifest = manifestOf(folder);

  it('names every package it imports, each installed at the version it asks for', () => {
    const sources = readdirSync(join(examples, folder)).filter(
      (name) => name.endsWith('.ts') && !name.endsWith('.test.ts'),
    );
    const imported = new Set(
      sources.flatMap((name) => importsOf(readFileSync(join(examples, folder, name), 'utf8'))),
    );
    expect([...imported].filter((name) => !(name in manifest.dependencies))).toEqual([]);
    for (const [name, range] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
      expect(satisfies(installedVersion(folder, name), range), `${name} ${range}`).toBe(true);
    }
  });

  it('compiles with its own tsconfig, the SDK taken from the installed package', () => {
    const result = spawnSync(process.execPath, [tsc, '-p', join(examples, folder), '--noEmit'], {
      encoding: 'utf8',
    });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('has a README with the commands to run it locally and to deploy it', () => {
    const readme = readFileSync(join(examples, folder, 'README.md'), 'utf8');
    for (const command of ['npm install', 'npm start']) expect(readme).toContain(command);
    expect(readme).toMatch(
      folder === 'cloud-function'
        ? /gcloud functions deploy product .*--runtime=nodejs20/
        : /npx wrangler deploy/,
    );
  });
});

describe('the examples started as their READMEs say', () => {
  let stack: Stack;
  const started: ChildProcess[] = [];
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    // The whole process group: npm passes no signal on to the server its shell started.
    for (const child of started) if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    rmSync(join(examples, 'cloud-function', 'dist'), { recursive: true, force: true });
    await stack?.stop();
  });

  /** `npm <args>` in an example's folder, with the settings its README gives. */
  const npm = (folder: string, args: string[], env: Record<string, string>) => {
    const child = spawn('npm', args, {
      detached: true,
      cwd: join(examples, folder),
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk));
    return () => output;
  };
  const settings = () => ({ CACHEGATE_URL: stack.gateway.url, CACHEGATE_TOKEN: TOKENS.write });

  it('cloud-function: npm run build, then npm start serves GET /?id=42 with the Functions Framework', async () => {
    const build = spawnSync('npm', ['run', 'build'], {
      cwd: join(examples, 'cloud-function'),
      env: cleanEnv(),
      encoding: 'utf8',
    });
    expect(build.status, build.stdout + build.stderr).toBe(0);
    const port = await freePort();
    const output = npm('cloud-function', ['start'], { ...settings(), PORT: String(port) });
    const url = `http://127.0.0.1:${port}/?id=42`;
    // Polled on another product, so that the one checked below counts its first view.
    const ready = () =>
      fetch(`http://127.0.0.1:${port}/?id=1`).then(
        (r) => r.ok,
        () => false,
      );
    await waitFor(ready, 30_000, `never served:\n${output()}`);
    const response = await fetch(url);
    expect(response.status, output()).toBe(200);
    expect(await response.json()).toEqual({
      product: { id: '42', name: 'Product 42', price: 9.99 },
      views: 1,
      servedVia: 'http',
    });
  }, 90_000);

  it('edge-function: npm start serves GET /views/home', async () => {
    const port = await freePort();
    const output = npm('edge-function', ['start'], { ...settings(), PORT: String(port) });
    const url = `http://127.0.0.1:${port}/views/home`;
    const ready = () =>
      fetch(`http://127.0.0.1:${port}/views/other`).then(
        (r) => r.ok,
        () => false,
      );
    await waitFor(ready, 30_000, `never served:\n${output()}`);
    const response = await fetch(url);
    expect(await response.json()).toEqual({ page: 'home', views: 1 });
  }, 60_000);
});
