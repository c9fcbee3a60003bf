import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../../packages/server/test/helpers/redis.js';
import {
  type BuiltStage,
  buildImageOutsideDocker,
  dockerignoreFilter,
  mapArgv,
  type parseDockerfile,
  readText,
} from './helpers/dockerfile.js';
import { freePort, waitForHttp } from './helpers/tools.js';

/**
 * The image cannot be built here (no Docker engine), so this runs what the Dockerfile runs: its stages,
 * outside Docker, in a copy of the build context that .dockerignore lets through. The build stage does a real
 * `npm ci` and `npm run build`; `npm ci` prefers the local npm cache (npm_config_prefer_offline) so that the
 * test takes seconds and needs no network once `npm ci` has run on the machine. Then the runtime stage's CMD
 * starts against a real redis-server, and its HEALTHCHECK command probes it.
 */

const repo = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'dockerfile-test-token-4f8a1c9e';
const REDIS_PASSWORD = 'dockerfile-test-redis-pw-7d2b';

let scratch: string;
let contextFiles: string[];
let stages: ReturnType<typeof parseDockerfile>;
let runtime: BuiltStage;
let redis: TestRedis;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'cachegate-dockerfile-'));
  ({ contextFiles, stages, runtime } = buildImageOutsideDocker(repo, scratch));
  redis = await startTestRedis({ password: REDIS_PASSWORD });
}, 240_000);

afterAll(async () => {
  await redis?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('deploy/Dockerfile', () => {
  it('keeps secrets, VCS data and local build output out of the build context', () => {
    expect(contextFiles).toContain('package-lock.json');
    expect(contextFiles).toContain('deploy/healthcheck.mjs');
    expect(contextFiles.some((path) => path.startsWith('packages/server/src/'))).toBe(true);
    const leaks = contextFiles.filter((path) =>
      /(^|\/)(\.env|node_modules|dist|\.git|\.cachegate)(\/|$)|\.pem$|\.test\.ts$|^deploy\/(?!healthcheck\.mjs$)/.test(
        path,
      ),
    );
    expect(leaks).toEqual([]);
    const ignored = dockerignoreFilter(readText(join(repo, '.dockerignore')));
    for (const path of [
      'deploy/.env',
      'deploy/tls/privkey.pem',
      '.git/config',
      'packages/server/dist/main.js',
    ]) {
      expect(ignored(path)).toBe(false);
    }
  });

  it('builds in one stage and runs from a slim, non-root, production stage', () => {
    expect(stages.map((stage) => stage.name)).toEqual(['build', 'deps', 'runtime']);
    for (const stage of stages) expect(stage.from).toMatch(/^node:20(\.\d+)*-[a-z]*-?slim$/);
    expect(runtime.user).toBe('node');
    expect(runtime.env.NODE_ENV).toBe('production');
    expect(runtime.exposed).toEqual(['8080']);
    // Exec form with node itself as the process: SIGTERM reaches the gateway, not a shell or npm.
    expect(runtime.cmd?.[0]).toBe('node');
    expect(runtime.healthcheck?.[0]).toBe('node');
  });

  it('ships only production dependencies and compiled code', () => {
    const modules = readdirSync(join(runtime.root, 'node_modules'));
    expect(modules).toEqual(expect.arrayContaining(['pino', 'prom-client', '@redis', '@cachegate']));
    for (const devOnly of ['typescript', 'vitest', 'tsx', '@biomejs', '@upstash', 'esbuild']) {
      expect(modules).not.toContain(devOnly);
    }
    expect(existsSync(join(runtime.root, 'packages', 'server', 'dist', 'main.js'))).toBe(true);
    expect(existsSync(join(runtime.root, 'packages', 'client', 'dist', 'index.js'))).toBe(true);
    expect(existsSync(join(runtime.root, 'packages', 'server', 'src'))).toBe(false);
    expect(existsSync(join(runtime.root, 'packages', 'server', 'test'))).toBe(false);
    expect(existsSync(join(runtime.root, 'tsconfig.base.json'))).toBe(false);
    // The licence travels with the code it covers.
    expect(existsSync(join(runtime.root, 'LICENSE'))).toBe(true);
  });

  it('refuses to start without a token, as NODE_ENV=production demands', () => {
    const result = spawnSync(process.execPath, mapArgv(runtime, runtime.cmd ?? []).slice(1), {
      cwd: runtime.root,
      env: { PATH: process.env.PATH ?? '', ...runtime.env, CACHEGATE_REDIS_URL: redis.url },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('NODE_ENV=production and no token is configured');
  });

  describe('started with its CMD against a real Redis', () => {
    let gateway: ChildProcess;
    let port: number;
    let exited: Promise<number | null>;
    let logs = '';
    const env = () => ({
      PATH: process.env.PATH ?? '',
      ...runtime.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      CACHEGATE_REDIS_URL: redis.url,
      CACHEGATE_REDIS_PASSWORD: REDIS_PASSWORD,
      CACHEGATE_TOKEN: TOKEN,
    });
    const healthcheck = () =>
      spawnSync(process.execPath, mapArgv(runtime, runtime.healthcheck ?? []).slice(1), {
        env: env(),
        encoding: 'utf8',
        timeout: 10_000,
      });

    beforeAll(async () => {
      port = await freePort();
      const [, ...args] = mapArgv(runtime, runtime.cmd ?? []);
      gateway = spawn(process.execPath, args, {
        cwd: runtime.root,
        env: env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      gateway.stdout?.on('data', (chunk) => (logs += chunk));
      gateway.stderr?.on('data', (chunk) => (logs += chunk));
      exited = new Promise((resolve) => gateway.once('exit', (code) => resolve(code)));
      await waitForHttp(`http://127.0.0.1:${port}/livez`);
      // Listening comes first; ready once Redis is connected and the scope users are in place.
      await waitForHttp(`http://127.0.0.1:${port}/readyz`);
    }, 30_000);

    afterAll(() => {
      if (gateway.exitCode === null) gateway.kill('SIGKILL');
    });

    it('answers /livez and /readyz, and serves the cache API with the token', async () => {
      expect((await fetch(`http://127.0.0.1:${port}/livez`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
      const put = await fetch(`http://127.0.0.1:${port}/v1/cache/dockerfile-test`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ value: { built: 'outside docker' } }),
      });
      expect(put.status).toBeLessThan(300);
      const get = await fetch(`http://127.0.0.1:${port}/v1/cache/dockerfile-test`, { headers });
      expect(await get.json()).toMatchObject({ key: 'dockerfile-test', value: { built: 'outside docker' } });
      expect((await fetch(`http://127.0.0.1:${port}/v1/cache/dockerfile-test`)).status).toBe(401);
    });

    it('passes its HEALTHCHECK command', () => {
      const result = healthcheck();
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    });

    it('drains and exits 0 on SIGTERM, after which the health check fails', async () => {
      gateway.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(logs).not.toContain(TOKEN);
      expect(logs).not.toContain(REDIS_PASSWORD);
      const after = healthcheck();
      expect(after.status).toBe(1);
      expect(after.stderr).toContain('healthcheck: GET /livez failed');
    });
  });
});
