import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GatewayProcess,
  spawnReadyGateway,
  TOKENS,
  waitFor,
} from '../../packages/server/test/helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../../packages/server/test/helpers/redis.js';
import { freePort, hasTool, requireTool } from './helpers/tools.js';

const nginxBin = hasTool('nginx', ['-v']) ? 'nginx' : '/usr/sbin/nginx';
const config = readFileSync(join(import.meta.dirname, '..', 'nginx', 'load-balancer.conf'), 'utf8');

describe.runIf(requireTool(nginxBin, 'nginx', ['-v']))(
  'deploy/nginx/load-balancer.conf with two gateways',
  () => {
    let redis: TestRedis;
    let gateways: (GatewayProcess & { base: string })[] = [];
    let nginx: ChildProcess;
    let scratch: string;
    let base: string;

    beforeAll(async () => {
      redis = await startTestRedis();
      const env = {
        REDIS_URL: redis.url,
        CACHEGATE_TOKEN: TOKENS.write,
        CACHEGATE_RATE_LIMIT: '1000/1h',
        CACHEGATE_RATE_LIMIT_STORE: 'redis',
      };
      gateways = await Promise.all([spawnReadyGateway(env), spawnReadyGateway(env)]);
      const ports = gateways.map((gateway) => new URL(gateway.base).port);
      // The shipped file with the test's ports and paths: the upstream servers and the listen port change.
      scratch = mkdtempSync(join(tmpdir(), 'cachegate-lb-'));
      mkdirSync(join(scratch, 'logs'));
      const listen = await freePort();
      base = `http://127.0.0.1:${listen}`;
      const conf = config
        .replace(/server 10\.0\.0\.11:8080/, `server 127.0.0.1:${ports[0]}`)
        .replace(/server 10\.0\.0\.12:8080/, `server 127.0.0.1:${ports[1]}`)
        .replace('listen 8080;', `listen 127.0.0.1:${listen};`)
        .replace('/var/log/nginx/cachegate-lb.access.log', join(scratch, 'logs', 'access.log'));
      expect(conf).not.toContain('10.0.0.');
      writeFileSync(
        join(scratch, 'nginx.conf'),
        [
          'daemon off;',
          'worker_processes 1;',
          `pid ${join(scratch, 'logs', 'nginx.pid')};`,
          `error_log ${join(scratch, 'logs', 'error.log')};`,
          'events { worker_connections 256; }',
          `http { client_body_temp_path ${scratch}/body; proxy_temp_path ${scratch}/proxy;`,
          conf,
          '}',
        ].join('\n'),
      );
      nginx = spawn(
        nginxBin,
        ['-p', scratch, '-e', join(scratch, 'logs', 'error.log'), '-c', join(scratch, 'nginx.conf')],
        {
          stdio: 'ignore',
        },
      );
      await waitFor(
        () =>
          fetch(`${base}/livez`).then(
            (r) => r.ok,
            () => false,
          ),
        10_000,
        'nginx never answered',
      );
    }, 60_000);

    afterAll(async () => {
      nginx?.kill('SIGQUIT');
      for (const gateway of gateways) gateway.child.kill('SIGKILL');
      await redis?.stop();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    const get = (path: string) =>
      fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKENS.write}` } });

    it('spreads requests over both gateways, which share one Redis', async () => {
      const bootIds = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const response = await get(`/incr/shared-counter`);
        expect(response.status).toBe(200);
        // A request id is "<boot id of the process>-<n>": it tells which gateway answered.
        bootIds.add(String(response.headers.get('x-request-id')).split('-')[0] ?? '');
      }
      expect(bootIds.size).toBe(2);
      expect(await redis.command('GET', 'shared-counter')).toBe('20');
      // The rate limit is shared through Redis, so both replicas counted into one budget.
      const remaining = Number((await get('/get/shared-counter')).headers.get('ratelimit-remaining'));
      expect(remaining).toBe(1000 - 21);
    });

    it('keeps answering when one gateway stops', async () => {
      const stopped = gateways[0] as GatewayProcess;
      stopped.child.kill('SIGTERM');
      expect(await stopped.exited).toBe(0);
      for (let i = 0; i < 20; i++) expect((await get('/get/shared-counter')).status).toBe(200);
    });
  },
);
