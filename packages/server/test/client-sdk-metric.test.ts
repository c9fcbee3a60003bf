import { readFileSync } from 'node:fs';
import { Redis } from '@upstash/redis';
import { describe, expect, it } from 'vitest';
import { type TestGateway, TOKENS } from './helpers/gateway.js';
import { withRedisAndGateway } from './helpers/setup.js';

// Issue 13, item 6: the Upstash-Telemetry-* headers become cachegate_client_sdk_requests_total, with
// label values that no client can multiply.
let gateway: TestGateway;
withRedisAndGateway((started) => ({ gateway } = started), {}, { flushEach: false });

const METRIC = 'cachegate_client_sdk_requests_total';
/** Every series of the metric, as `{labels} value` lines. */
async function sdkSeries(): Promise<string[]> {
  const text = await (await gateway.request('/metrics', { token: TOKENS.admin })).text();
  return text.split('\n').filter((line) => line.startsWith(`${METRIC}{`));
}
function countOf(lines: string[], labels: string): number {
  const line = lines.find((candidate) => candidate.startsWith(`${METRIC}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

describe(METRIC, () => {
  it("counts the real @upstash/redis client's requests by SDK version, runtime major and platform", async () => {
    const manifest = new URL('../../../node_modules/@upstash/redis/package.json', import.meta.url);
    const [major, minor] = JSON.parse(readFileSync(manifest, 'utf8')).version.split('.');
    const labels = `{sdk="@upstash/redis@${major}.${minor}",runtime="node@${process.versions.node.split('.')[0]}",platform="unknown"}`;
    const before = countOf(await sdkSeries(), labels);
    // Telemetry on, as the SDK ships; no platform variables, so it says "unknown".
    const saved = { VERCEL: process.env.VERCEL, AWS_REGION: process.env.AWS_REGION };
    delete process.env.VERCEL;
    delete process.env.AWS_REGION;
    const sdk = new Redis({ url: gateway.url, token: TOKENS.write, retry: false });
    Object.assign(process.env, Object.fromEntries(Object.entries(saved).filter(([, v]) => v !== undefined)));
    for (let i = 0; i < 5; i++) await sdk.set(`k${i}`, i);
    expect(await sdk.get('k4')).toBe(4);
    expect(countOf(await sdkSeries(), labels)).toBe(before + 6);
  });

  it('counts requests with one header and not those with none', async () => {
    const lines = await sdkSeries();
    await gateway.request('/ping', { headers: { 'upstash-telemetry-platform': 'vercel' } });
    await gateway.request('/ping');
    const after = await sdkSeries();
    const labels = '{sdk="none",runtime="none",platform="vercel"}';
    expect(countOf(after, labels)).toBe(countOf(lines, labels) + 1);
    expect(after.length).toBe(lines.length + (countOf(lines, labels) === 0 ? 1 : 0));
  });

  it('does not count requests without a valid token', async () => {
    const headers = { 'upstash-telemetry-sdk': 'unauthenticated@v9.9.9' };
    expect((await gateway.request('/ping', { token: 'not-a-token-at-all', headers })).status).toBe(401);
    expect((await sdkSeries()).join('\n')).not.toContain('unauthenticated');
  });

  it('keeps label values bounded against 1000 different values of each header', async () => {
    for (let i = 0; i < 1000; i++) {
      const response = await gateway.request('/ping', {
        headers: {
          'upstash-telemetry-sdk': `@evil/sdk-${i}@v${i}.${i}.0`,
          'upstash-telemetry-runtime': `bun@v${i}`,
          'upstash-telemetry-platform': i % 2 === 0 ? `p${i}` : `"${'x'.repeat(i)}"`,
        },
      });
      expect(response.status).toBe(200);
    }
    const lines = await sdkSeries();
    expect(lines.length).toBeLessThanOrEqual(65);
    // Every one of them was counted, most as "other".
    const total = lines.reduce((sum, line) => sum + Number(line.split(' ')[1]), 0);
    expect(total).toBeGreaterThanOrEqual(1000);
    expect(countOf(lines, '{sdk="other",runtime="other",platform="other"}')).toBeGreaterThan(900);
    // A label value is never longer than what the normalization lets through.
    for (const line of lines) expect(line.length).toBeLessThan(400);
  });
});
