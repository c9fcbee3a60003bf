import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../packages/server/src/config.js';
import { waitFor } from '../../packages/server/test/helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../../packages/server/test/helpers/redis.js';
import { freePort, requireTool } from './helpers/tools.js';

/**
 * deploy/systemd/cachegate.service: systemd accepts it, and its commands do what systemd would have them do.
 * ExecStart runs as systemd runs it (an argv, no shell), so its process is the main PID that ExecReload and
 * KillSignal address: the reload must reach the gateway, and the stop must drain it to exit 0.
 */

const unitFile = fileURLToPath(new URL('../systemd/cachegate.service', import.meta.url));
const bin = fileURLToPath(new URL('../../packages/server/bin/cachegate.js', import.meta.url));
const unit = readFileSync(unitFile, 'utf8');
const setting = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(unit)?.[1] ?? '';

describe.runIf(requireTool('systemd-analyze', 'systemd'))('deploy/systemd/cachegate.service', () => {
  it('passes systemd-analyze verify', () => {
    const result = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('the systemd unit run as systemd runs it', () => {
  let redis: TestRedis;
  let scratch: string;
  beforeAll(async () => {
    redis = await startTestRedis();
    scratch = mkdtempSync(join(tmpdir(), 'cachegate-systemd-'));
  });
  afterAll(async () => {
    await redis?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('starts node itself (no npm, npx or shell), and stops within the grace systemd gives it', () => {
    const argv = setting('ExecStart').split(' ');
    expect(argv.slice(0, 2)).toEqual(['/usr/bin/env', 'node']);
    expect(argv.join(' ')).not.toMatch(/\b(npm|npx|sh|bash)\b/);
    expect(setting('KillSignal')).toBe('SIGTERM');
    expect(setting('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(Number(setting('TimeoutStopSec')) * 1000).toBeGreaterThan(loadConfig({}).shutdownGraceMs);
  });

  it('reloads the tokens file on ExecReload and drains to exit 0 on KillSignal', async () => {
    const tokens = join(scratch, 'tokens.json');
    const first = 'systemd-first-token-0123456789';
    const second = 'systemd-second-token-0123456789';
    writeFileSync(tokens, JSON.stringify([{ name: 'first', token: first, scope: 'write' }]));
    const port = await freePort();
    const argv = setting('ExecStart')
      .split(' ')
      .map((arg) => (arg.endsWith('/bin/cachegate.js') ? bin : arg));
    const child = spawn(argv[0] as string, argv.slice(1), {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
        CACHEGATE_REDIS_URL: redis.url,
        CACHEGATE_TOKENS_FILE: tokens,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const base = `http://127.0.0.1:${port}`;
    const ping = (token: string) =>
      fetch(`${base}/`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '["PING"]' });
    try {
      await waitFor(
        () =>
          fetch(`${base}/readyz`).then(
            (r) => r.ok,
            () => false,
          ),
        20_000,
        `not ready:\n${output}`,
      );
      // The process systemd started is the gateway: it says so itself.
      expect(output).toContain(`"processId":${child.pid}`);
      expect((await ping(second)).status).toBe(401);
      writeFileSync(tokens, JSON.stringify([{ name: 'second', token: second, scope: 'write' }]));
      const reload = setting('ExecReload').replace('$MAINPID', String(child.pid)).split(' ');
      expect(spawnSync(reload[0] as string, reload.slice(1)).status).toBe(0);
      await waitFor(() => output.includes('tokens reloaded'), 5_000, `no reload:\n${output}`);
      expect((await ping(second)).status).toBe(200);
      expect((await ping(first)).status).toBe(401);
      child.kill(setting('KillSignal') as NodeJS.Signals);
      expect(await exited).toBe(0);
      expect(output).toContain('shutting down: draining in-flight requests');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
