import { describe, expect, it } from 'vitest';
import { type TestGateway, TOKENS } from './helpers/gateway.js';
import type { TestRedis } from './helpers/redis.js';
import { withRedisAndGateway } from './helpers/setup.js';

let redis: TestRedis;
let gateway: TestGateway;
withRedisAndGateway((started) => ({ redis, gateway } = started));

const lines = (...items: unknown[]) =>
  `${items.map((item) => (typeof item === 'string' ? item : JSON.stringify(item))).join('\n')}\n`;
const importLines = (body: string, query = '', token: string = TOKENS.write) =>
  gateway.request(`/v1/cache/import${query}`, { method: 'POST', body, token });

describe('POST /v1/cache/import', () => {
  it('stores each line as PUT /v1/cache/:key stores its body, with its TTL', async () => {
    const value = { a: [1, 'two', null], ünï: '🚀', n: 1.5 };
    const response = await importLines(
      lines({ key: 'one', value, ttl: 300 }, { key: 'two', value: 'text', ttl: null }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ loaded: 2, skipped: 0, invalid: [], failed: [] });
    await gateway.request('/v1/cache/reference', { method: 'PUT', body: JSON.stringify({ value }) });
    expect(await redis.command('GET', 'one')).toBe(await redis.command('GET', 'reference'));
    expect(Number(await redis.command('TTL', 'one'))).toBeGreaterThan(290);
    expect(Number(await redis.command('TTL', 'two'))).toBe(-1);
    expect((await (await gateway.request('/v1/cache/two')).json()).value).toBe('text');
  });

  it('reports each bad line by its number (blank lines count) and stores the others', async () => {
    const response = await importLines(
      lines(
        { key: 'a', value: 1 },
        '',
        'not json',
        { key: 'b' },
        { key: 'k'.repeat(2000), value: 1 },
        '{"key":"c","value":12345678901234567890}',
        { key: 'd', value: 4, ttl: 1.5 },
        { key: 'e', value: 5 },
      ),
    );
    const body = await response.json();
    expect(body.loaded).toBe(2);
    expect(body.invalid.map((p: { line: number }) => p.line)).toEqual([3, 4, 5, 6, 7]);
    expect(body.invalid[2].error).toContain('CACHEGATE_MAX_KEY_BYTES');
    expect(body.invalid[3].error).toContain('send it as a string');
    expect(await redis.command('MGET', 'a', 'e', 'c', 'd')).toEqual(['1', '5', null, null]);
  });

  it('with onlyMissing=true leaves existing keys as they are; a key of another type fails alone', async () => {
    await redis.command('SET', 'kept', '"old"');
    const response = await importLines(
      lines({ key: 'kept', value: 'new' }, { key: 'added', value: 'new' }),
      '?onlyMissing=true',
    );
    expect(await response.json()).toEqual({ loaded: 1, skipped: 1, invalid: [], failed: [] });
    expect(await redis.command('MGET', 'kept', 'added')).toEqual(['"old"', '"new"']);
    expect((await importLines('', '?onlyMissing=maybe')).status).toBe(400);
    expect((await importLines('', '?other=1')).status).toBe(400);
  });

  it('needs a token that may write, and refuses more entries than CACHEGATE_MAX_PIPELINE before running any', async () => {
    const denied = await importLines(lines({ key: 'x', value: 1 }), '', TOKENS.read);
    expect(denied.status).toBe(403);
    expect(await redis.command('EXISTS', 'x')).toBe(0);
    const many = lines(...Array.from({ length: 1001 }, (_, i) => ({ key: `m:${i}`, value: i })));
    const tooMany = await importLines(many);
    expect(tooMany.status).toBe(413);
    expect((await tooMany.json()).error.code).toBe('CG_ERR_PIPELINE_TOO_LARGE');
    expect(await redis.command('DBSIZE')).toBe(0);
  });

  it('leaves GET /v1/cache/import reading the key "import"', async () => {
    await redis.command('SET', 'import', '"a key"');
    expect((await (await gateway.request('/v1/cache/import')).json()).value).toBe('a key');
  });
});
