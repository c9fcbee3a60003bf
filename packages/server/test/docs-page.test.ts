import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

/** Debian's chromium (installed by .ci/run), or another Chromium-family browser found on PATH. */
const browser = ['chromium', 'chromium-browser', 'google-chrome'].find(
  (name) => spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0,
);
// .ci/run sets CI=true: there a missing browser is a failure, not a skip.
const browserRequired = process.env.CI === 'true';

let redis: TestRedis;
let gateway: TestGateway;
beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await startGateway(redis.url);
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
});

describe('/docs in a real headless browser', () => {
  // Elsewhere a missing browser skips the rendering test below; in CI it is a failure.
  it.runIf(browserRequired)('has a browser to run in (CI)', () => {
    expect(browser, 'install it: apt-get install -y chromium').toBeDefined();
  });

  it.skipIf(browser === undefined)(
    'renders an operation for every path of the OpenAPI document',
    async () => {
      const profile = mkdtempSync(join(tmpdir(), 'cachegate-chromium-'));
      try {
        // Flags as the workplace's probe uses them: no sandbox as root, no background network traffic.
        const { stdout } = await promisify(execFile)(
          browser as string,
          [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            `--user-data-dir=${profile}`,
            '--virtual-time-budget=10000',
            '--dump-dom',
            `${gateway.url}/docs/`,
          ],
          { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
        );
        const rendered = new Set([...stdout.matchAll(/data-path="([^"]+)"/g)].map((m) => m[1]));
        const doc = (await (await gateway.request('/openapi.json', { token: null })).json()) as {
          paths: object;
        };
        const documented = Object.keys(doc.paths);
        expect(documented.length).toBeGreaterThan(10);
        for (const path of documented) expect(rendered, path).toContain(path);
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  );
});
