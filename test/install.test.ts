import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../packages/server/src/redis/embedded.js';
import { waitFor } from '../packages/server/test/helpers/gateway.js';
import { cleanEnv, type Packed, packAll, run } from './helpers/pack.js';

/**
 * A new user's first minutes: the server tarball installed alone into an empty project (it needs no other
 * package of the release, decision 0206), `npx cachegate --help`, then the embedded development start (no
 * REDIS_URL: the gateway runs its own redis-server) and requests against it; then the SDK's tarball beside it.
 * npm prefers its local cache, which `npm ci` filled, so this needs no network once the repository is set up.
 */

let project: string;
let packs: Record<'client' | 'server', Packed>;

beforeAll(() => {
  packs = packAll();
  project = mkdtempSync(join(tmpdir(), 'cachegate-install-'));
  writeFileSync(join(project, 'package.json'), '{ "name": "new-user", "private": true, "type": "module" }\n');
  run('npm', ['install', '--prefer-offline', '--no-audit', packs.server.tarball], { cwd: project });
}, 120_000);
afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
  if (packs) rmSync(dirname(packs.client.tarball), { recursive: true, force: true });
});

describe('the packages installed from their tarballs into an empty project', () => {
  it('installs the server without the SDK: it depends on no other package of the release', () => {
    const manifest = JSON.parse(
      readFileSync(join(project, 'node_modules', '@cachegate', 'server', 'package.json'), 'utf8'),
    );
    expect(Object.keys(manifest.dependencies)).not.toContain('@cachegate/client');
    expect(existsSync(join(project, 'node_modules', '@cachegate', 'client'))).toBe(false);
  });

  it('answers npx cachegate --help', () => {
    const help = run('npx', ['--no-install', 'cachegate', '--help'], { cwd: project });
    expect(help).toMatch(/^cachegate 0\.\d+\.\d+: HTTP gateway/);
    expect(help).toContain('CACHEGATE_REDIS_URL, REDIS_URL');
  });

  it('imports the SDK by name from ESM, installed beside the server', () => {
    run('npm', ['install', '--prefer-offline', '--no-audit', packs.client.tarball], { cwd: project });
    const out = run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { Cachegate } from '@cachegate/client'; console.log(typeof Cachegate)",
      ],
      { cwd: project },
    );
    expect(out.trim()).toBe('function');
  });

  it('starts the embedded development setup, serves a request with the printed token, and stops on SIGTERM', async () => {
    const port = await freePort();
    const child: ChildProcess = spawn(join(project, 'node_modules', '.bin', 'cachegate'), [], {
      cwd: project,
      env: cleanEnv({ PORT: String(port) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((done) => child.once('exit', done));
    try {
      await waitFor(() => output.includes('export TOKEN='), 20_000, `no banner:\n${output}`);
      const token = readFileSync(join(project, '.cachegate', 'dev-token'), 'utf8').trim();
      expect(output).toContain(`export TOKEN=${token}`);
      const base = `http://127.0.0.1:${port}`;
      await waitFor(
        () =>
          fetch(`${base}/readyz`).then(
            (r) => r.ok,
            () => false,
          ),
        20_000,
        `never ready:\n${output}`,
      );
      const set = await fetch(`${base}/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: '["SET","installed","yes"]',
      });
      expect(await set.json()).toEqual({ result: 'OK' });
      const get = await fetch(`${base}/get/installed`, { headers: { authorization: `Bearer ${token}` } });
      expect(await get.json()).toEqual({ result: 'yes' });
      // The cache API writes values in the SDK's format without the SDK installed.
      const headers = { authorization: `Bearer ${token}` };
      await fetch(`${base}/v1/cache/greeting`, {
        method: 'PUT',
        headers,
        body: '{"value":{"hello":"world"}}',
      });
      const raw = await fetch(`${base}/get/greeting`, { headers });
      expect(await raw.json()).toEqual({ result: '{"hello":"world"}' });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
