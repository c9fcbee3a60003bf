import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Example } from '../src/routes/operations/examples.js';
import { browser, openPage } from './helpers/browser.js';
import { startGateway, type TestGateway, TOKENS } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

// .ci/run sets CI=true: there a missing browser is a failure, not a skip.
const browserRequired = process.env.CI === 'true';

let redis: TestRedis;
let gateway: TestGateway;
let page: string;
beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await startGateway(redis.url);
  page = await (await gateway.request('/docs', { token: null })).text();
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
});

const decodeEntities = (html: string) =>
  html.replace(/&#(\d+);/g, (_match, code) => String.fromCharCode(Number(code)));

/** The examples on the page, in the order the page says they run. */
function examplesOnPage(): Example[] {
  return [...page.matchAll(/data-step="(\d+)" data-example="([^"]*)"/g)]
    .map(([, step, json]) => ({
      step: Number(step),
      example: JSON.parse(decodeEntities(json as string)) as Example,
    }))
    .sort((a, b) => a.step - b.step)
    .map(({ example }) => example);
}

/** Whether `actual` is what the page shows: a shown string ending in "…" stands for any string it starts. */
function isAsShown(actual: unknown, shown: unknown): boolean {
  if (typeof shown === 'string' && shown.endsWith('…')) {
    return typeof actual === 'string' && actual.startsWith(shown.slice(0, -1));
  }
  if (Array.isArray(shown)) {
    return (
      Array.isArray(actual) &&
      actual.length === shown.length &&
      shown.every((item, i) => isAsShown(actual[i], item))
    );
  }
  if (shown !== null && typeof shown === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const keys = Object.keys(shown);
    return (
      keys.length === Object.keys(actual).length &&
      keys.every((key) =>
        isAsShown((actual as Record<string, unknown>)[key], (shown as Record<string, unknown>)[key]),
      )
    );
  }
  return Object.is(actual, shown);
}

describe('/docs', () => {
  it('says nothing untrue: each example on it, run in order on an empty Redis, answers as shown', async () => {
    const examples = examplesOnPage();
    expect(examples.length).toBeGreaterThan(15);
    await redis.command('FLUSHALL');
    for (const example of examples) {
      const label = `${example.method} ${example.path}: ${example.title}`;
      const response = await fetch(`${gateway.url}${example.path}`, {
        method: example.method,
        headers: example.withToken === false ? {} : { authorization: `Bearer ${TOKENS.write}` },
        ...(example.body === undefined ? {} : { body: example.body }),
      });
      expect(response.status, label).toBe(example.status);
      for (const [name, value] of Object.entries(example.headers ?? {}))
        expect(response.headers.get(name), label).toBe(value);
      const body: unknown = await response.json();
      expect(
        isAsShown(body, example.response),
        `${label}\n  shown: ${JSON.stringify(example.response)}\n  got:   ${JSON.stringify(body)}`,
      ).toBe(true);
    }
  });

  it('links only to what the gateway itself serves, or to places on the page', async () => {
    const links = [...page.matchAll(/href="([^"]+)"/g)].map(([, href]) => decodeEntities(href as string));
    expect(links.length).toBeGreaterThan(3);
    for (const href of links) {
      if (href.startsWith('#')) expect(page, href).toContain(`id="${href.slice(1)}"`);
      else {
        expect(href, 'no link leaves the gateway').toMatch(/^\/[^/]/);
        expect((await gateway.request(href, { token: null })).status, href).toBe(200);
      }
    }
  });

  it('shows bodies as fields with their types, never as JSON schema, and the 405 rule once', () => {
    expect(page).not.toMatch(/&#34;(properties|anyOf|oneOf|additionalProperties|\$ref)&#34;/);
    const post = page.slice(page.indexOf('data-path="/v1/cache/{key}" data-method="put"'));
    expect(post).toMatch(/<td><code>value<\/code><\/td><td><code>any JSON<\/code><\/td>/);
    expect(post).toMatch(
      /<td><code>ttl<\/code><\/td><td><code>integer<\/code> <span class="optional">optional<\/span><\/td>/,
    );
    expect(page.match(/<code>405<\/code>/g)).toHaveLength(1);
    expect(page).not.toMatch(/Not allowed \(use/);
  });

  it.runIf(browserRequired)('has a browser to render in (CI)', () => {
    expect(browser, 'install it: apt-get install -y chromium').toBeDefined();
  });

  it.skipIf(browser === undefined)(
    'reads at 1280 px: nothing wider than the window, nothing scrolls sideways',
    async () => {
      const opened = await openPage(`${gateway.url}/docs`, 1280);
      try {
        const layout = await opened.evaluate<{
          width: number;
          viewport: number;
          operations: number;
          wide: string[];
        }>(`(() => ({
        width: document.documentElement.scrollWidth,
        viewport: window.innerWidth,
        operations: document.querySelectorAll('.op').length,
        wide: [...document.querySelectorAll('body *')]
          .filter((el) => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
          .map((el) => el.tagName + ' ' + el.textContent.slice(0, 60)),
      }))()`);
        expect(layout.viewport).toBe(1280);
        expect(layout.operations).toBeGreaterThan(15);
        expect(layout.wide).toEqual([]);
        expect(layout.width).toBeLessThanOrEqual(1280);
      } finally {
        await opened.close();
      }
    },
    60_000,
  );
});
