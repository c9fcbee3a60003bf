import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, TOKENS } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

let redis: TestRedis;
let gateway: TestGateway;
// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is walked dynamically
let doc: any;

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await startGateway(redis.url);
  const response = await gateway.request('/openapi.json', { token: null });
  expect(response.status).toBe(200);
  doc = await response.json();
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
});

describe('the OpenAPI document', () => {
  it('is public and a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes every route of the app', () => {
    const routes = gateway.app.routes.flatMap((route) =>
      Object.keys(route.operations).map((method) => ({
        method,
        url: route.path,
        path: route.openapiPath ?? route.path,
        hidden: route.isHidden === true,
      })),
    );
    expect(routes.filter((r) => !r.hidden).length).toBeGreaterThan(15);
    for (const { method, url, path } of routes.filter((r) => !r.hidden)) {
      expect(doc.paths[path]?.[method.toLowerCase()], `${method} ${url}`).toBeDefined();
    }
    // Hidden routes are only the docs page itself.
    for (const route of routes.filter((r) => r.hidden)) expect(route.url).toMatch(/^\/docs/);
  });

  it('matches what the routes really return: real responses validate against the documented schemas', async () => {
    const ajv = new Ajv2020.default({ strict: false });
    let compiled = 0;
    const check = async (method: string, path: string, response: Response) => {
      const operation = doc.paths[path][method.toLowerCase()];
      const documented = operation.responses[String(response.status)];
      expect(documented, `${method} ${path} ${response.status} is documented`).toBeDefined();
      const schema = documented.content?.['application/json']?.schema;
      if (schema === undefined) return;
      const body = await response.json();
      // The document's components ride along so that "#/components/schemas/..." references resolve.
      const validate = ajv.compile({ $id: `response-${compiled++}`, ...schema, components: doc.components });
      expect(validate(body), `${method} ${path} ${response.status}: ${JSON.stringify(validate.errors)}`).toBe(
        true,
      );
    };
    const call = (path: string, init: RequestInit & { token?: string | null } = {}) =>
      gateway.request(path, init);

    await check(
      'PUT',
      '/v1/cache/{key}',
      await call('/v1/cache/k', { method: 'PUT', body: '{"value":{"a":1},"ttl":5}' }),
    );
    await check('PUT', '/v1/cache/{key}', await call('/v1/cache/k', { method: 'PUT', body: '{"nope":1}' }));
    await check('GET', '/v1/cache/{key}', await call('/v1/cache/k'));
    const entryNotModified = await call('/v1/cache/k', { headers: { 'if-none-match': '*' } });
    expect(entryNotModified.status).toBe(304);
    await check('GET', '/v1/cache/{key}', entryNotModified);
    await check('GET', '/v1/cache/{key}', await call('/v1/cache/missing'));
    await check('GET', '/v1/cache/{key}', await call('/v1/cache/k', { token: null }));
    await check('DELETE', '/v1/cache/{key}', await call('/v1/cache/k', { method: 'DELETE' }));
    await check(
      'POST',
      '/v1/cache/mset',
      await call('/v1/cache/mset', { method: 'POST', body: '{"entries":[{"key":"a","value":1}]}' }),
    );
    await check(
      'POST',
      '/v1/cache/mget',
      await call('/v1/cache/mget', { method: 'POST', body: '{"keys":["a","b"]}' }),
    );
    await check(
      'POST',
      '/',
      await call('/', { method: 'POST', body: '["EVAL","return {1,{\\"a\\"}}","0"]' }),
    );
    await check('POST', '/', await call('/', { method: 'POST', body: '["GET","nothing"]' }));
    await check('POST', '/', await call('/', { method: 'POST', body: '["LPUSH","a","x"]' }));
    await check('POST', '/', await call('/', { method: 'POST', body: '["FLUSHALL"]' }));
    await check('GET', '/{command}', await call('/get/a', { headers: { 'upstash-encoding': 'base64' } }));
    const commandNotModified = await call('/get/nothing', { headers: { 'if-none-match': '*' } });
    expect(commandNotModified.status).toBe(304);
    await check('GET', '/{command}', commandNotModified);
    await check('POST', '/{command}', await call('/set/b', { method: 'POST', body: 'raw' }));
    await check(
      'POST',
      '/pipeline',
      await call('/pipeline', { method: 'POST', body: '[["GET","a"],["LPUSH","a","x"]]' }),
    );
    await check('POST', '/multi-exec', await call('/multi-exec', { method: 'POST', body: '[["INCR","n"]]' }));
    await check('POST', '/multi-exec', await call('/multi-exec', { method: 'POST', body: '[["GET"]]' }));
    await check('GET', '/livez', await call('/livez', { token: null }));
    await check('GET', '/readyz', await call('/readyz', { token: null }));
    await check('GET', '/health', await call('/health', { token: null }));
    await check('GET', '/metrics', await call('/metrics', { token: TOKENS.admin }));
  });

  it('lists no operation for a method a path does not serve: the 405 is said once, in the description', async () => {
    const notServed: [string, string, string][] = [
      ['POST', '/v1/cache/k', '/v1/cache/{key}'],
      ['PUT', '/get/a', '/{command}'],
      ['GET', '/pipeline', '/pipeline'],
      ['GET', '/', '/'],
    ];
    for (const [method, url, path] of notServed) {
      const response = await gateway.request(url, { method });
      expect(response.status, `${method} ${url}`).toBe(405);
      expect(response.headers.get('allow')).toBeTruthy();
      expect(doc.paths[path][method.toLowerCase()], `${method} ${path}`).toBeUndefined();
    }
    for (const item of Object.values(doc.paths) as Record<string, { responses: object }>[]) {
      for (const operation of Object.values(item)) {
        expect(JSON.stringify(operation)).not.toContain('x-cachegate-not-allowed');
        expect(Object.keys(operation.responses)).not.toEqual(['405']);
      }
    }
    expect(doc.info.description).toContain('405');
  });

  it('documents the ETag, If-None-Match and the 304 on the GET routes only', () => {
    for (const path of ['/{command}', '/v1/cache/{key}']) {
      const get = doc.paths[path].get;
      expect(get.parameters.map((p: { name: string }) => p.name)).toContain('if-none-match');
      expect(get.responses['304']).toBeDefined();
      expect(get.responses['304'].content).toBeUndefined();
      expect(Object.keys(get.responses['200'].headers)).toEqual(['ETag', 'Cache-Control']);
    }
    expect(doc.paths['/{command}'].post.responses['304']).toBeUndefined();
    expect(doc.paths['/'].post.responses['304']).toBeUndefined();
  });

  it('marks health and the document public, and everything else as needing a token', () => {
    for (const path of ['/livez', '/readyz', '/health', '/openapi.json'])
      expect(doc.paths[path].get.security).toEqual([]);
    expect(doc.paths['/'].post.security).toBeUndefined();
    expect(doc.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }, { tokenQuery: [] }]);
  });
});

describe('the docs page', () => {
  it('is served without a token, with every operation of the document on it', async () => {
    const response = await gateway.request('/docs/', { token: null });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    // A static reference page (decision 0010): every documented operation is on it, no script needed.
    const page = await response.text();
    let operations = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item as object)) {
        operations++;
        expect(page, `${method} ${path}`).toContain(`data-path="${path}" data-method="${method}"`);
      }
    }
    expect(operations).toBeGreaterThan(15);
    expect(page.match(/class="op"/g)).toHaveLength(operations);
  });
});
