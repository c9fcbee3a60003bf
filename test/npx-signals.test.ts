import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../packages/server/src/redis/embedded.js';
import { waitFor } from '../packages/server/test/helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../packages/server/test/helpers/redis.js';
import { cleanEnv, repo } from './helpers/pack.js';

/**
 * The gateway started through npm (`npx cachegate`), as docs/operations.md says to signal it: npm passes
 * signals to a shell, never to the gateway, so SIGHUP goes to the process the gateway names at start, and
 * stopping npm stops the gateway instead of leaving it running without a parent.
 */

let redis: TestRedis;
let scratch: string;
beforeAll(async () => {
  redis = await startTestRedis();
  scratch = mkdtempSync(join(tmpdir(), 'cachegate-npx-'));
});
afterAll(async () => {
  await redis?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a gateway started with npx', () => {
  it('reloads on SIGHUP sent to the process it names, and stops when npm is stopped', async () => {
    const tokens = join(scratch, 'tokens.json');
    const first = 'npx-first-token-0123456789';
    const second = 'npx-second-token-0123456789';
    writeFileSync(tokens, JSON.stringify([{ name: 'first', token: first, scope: 'write' }]));
    const port = await freePort();
    const npx = spawn('npx', ['--no-install', 'cachegate'], {
      cwd: repo,
      env: cleanEnv({
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: redis.url,
        CACHEGATE_TOKENS_FILE: tokens,
        CACHEGATE_LOG_FORMAT: 'json',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npx.stdout.on('data', (chunk: Buffer) => (output += chunk));
    npx.stderr.on('data', (chunk: Buffer) => (output += chunk));
    let gatewayPid = 0;
    try {
      await waitFor(() => /"processId":(\d+)/.test(output), 30_000, `no signals line:\n${output}`);
      gatewayPid = Number(/"processId":(\d+)/.exec(output)?.[1]);
      expect(gatewayPid).not.toBe(npx.pid);
      const ping = (token: string) =>
        fetch(`http://127.0.0.1:${port}/`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
          body: '["PING"]',
        });
      await waitFor(async () => (await ping(first)).ok, 10_000, `never served:\n${output}`);

      writeFileSync(tokens, JSON.stringify([{ name: 'second', token: second, scope: 'write' }]));
      process.kill(gatewayPid, 'SIGHUP');
      await waitFor(() => output.includes('tokens reloaded'), 5_000, `no reload:\n${output}`);
      expect((await ping(second)).status).toBe(200);

      // `kill %1` in a CI job: npm exits, and the gateway follows it, draining.
      npx.kill('SIGTERM');
      await waitFor(() => !isRunning(gatewayPid), 10_000, `the gateway outlived npm:\n${output}`);
      expect(output).toContain('shutting down: draining in-flight requests');
    } finally {
      // SIGTERM first: a SIGKILL would leave npm's shell, and the gateway under it, behind.
      npx.kill('SIGTERM');
      if (gatewayPid !== 0 && isRunning(gatewayPid)) process.kill(gatewayPid, 'SIGKILL');
    }
  }, 60_000);
});
