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
    "shows cachegate's own reference once rendered: every real operation, no 405 catch-alls, links onward",
    async () => {
      const profile = mkdtempSync(join(tmpdir(), 'cachegate-chromium-'));
      try {
        // Flags as the workplace's probe uses them: no sandbox as root, no background network traffic.
        // --virtual-time-budget lets the page finish whatever it would do before the DOM is dumped.
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
        const doc = (await (await gateway.request('/openapi.json', { token: null })).json()) as {
          info: { version: string };
          paths: Record<string, Record<string, { 'x-cachegate-not-allowed'?: boolean }>>;
        };
        const expected = Object.entries(doc.paths).flatMap(([path, item]) =>
          Object.entries(item)
            .filter(([, op]) => !op['x-cachegate-not-allowed'])
            .map(([method]) => `${method} ${path}`),
        );
        const rendered = [...stdout.matchAll(/data-path="([^"]+)" data-method="([^"]+)"/g)].map(
          (m) => `${m[2]} ${m[1]}`,
        );
        expect(expected.length).toBeGreaterThan(15);
        expect(rendered.sort()).toEqual(expected.sort());
        // What the reader sees: the product's name, not a framework's; nothing still loading.
        expect(stdout).toContain(`<title>cachegate ${doc.info.version}: API reference</title>`);
        expect(stdout).toMatch(/<h1>cachegate API <small>/);
        expect(stdout).not.toMatch(/swagger|LOADING|Not allowed \(use/i);
        // The 405 rule is stated once, in prose, and the guides are linked.
        expect(stdout.match(/<code>405<\/code>/g)).toHaveLength(1);
        for (const guide of [
          'docs/api.md',
          'docs/compatibility.md',
          'docs/ci.md',
          'packages/client/README.md',
        ])
          expect(stdout).toContain(`href="https://github.com/cachegate/cachegate/blob/main/${guide}"`);
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  );
});
