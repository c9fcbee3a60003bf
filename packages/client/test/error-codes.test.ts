import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Cachegate, isUnavailable } from '@cachegate/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ERRORS } from '../src/errors.js';
import { rejectionOf, type Stack, startStack, TOKENS } from './helpers/stack.js';

/** The SDK reports a gateway's error answer under the gateway's own code: one vocabulary on both sides. */

describe('a real gateway: the SDK reports the code the gateway sent', () => {
  let stack: Stack;
  const client = (token: string = TOKENS.write) =>
    new Cachegate({ url: stack.gateway.url, token, retry: false, timeoutMs: 2000 });

  beforeAll(async () => {
    stack = await startStack({ CACHEGATE_MAX_PIPELINE: '5', CACHEGATE_MAX_BODY_BYTES: '65536' });
  });
  afterAll(() => stack?.stop());

  it('401 CG_ERR_AUTH_INVALID for a token the gateway does not know', async () => {
    const error = await rejectionOf(client('not-a-known-token-0123456789').get('k'));
    expect(error.code).toBe('CG_ERR_AUTH_INVALID');
  });

  it('403 CG_ERR_COMMAND_DENIED for a read token writing', async () => {
    expect((await rejectionOf(client(TOKENS.read).set('k', 1))).code).toBe('CG_ERR_COMMAND_DENIED');
  });

  it('413 CG_ERR_PIPELINE_TOO_LARGE and CG_ERR_BODY_TOO_LARGE, told apart', async () => {
    const pipeline = client().pipeline();
    for (let index = 0; index < 6; index++) pipeline.get(`k${index}`);
    expect((await rejectionOf(pipeline.exec())).code).toBe('CG_ERR_PIPELINE_TOO_LARGE');
    expect((await rejectionOf(client().set('big', 'x'.repeat(100_000)))).code).toBe('CG_ERR_BODY_TOO_LARGE');
  });

  it('400 CG_ERR_REDIS_ERROR for a command Redis refuses, CG_ERR_TRANSACTION_ABORTED for a discarded MULTI', async () => {
    await stack.redis.command('LPUSH', 'list', 'a');
    expect((await rejectionOf(client().get('list'))).code).toBe('CG_ERR_REDIS_ERROR');
    const discarded = client().multi().set('m', 1).command(['SET', 'only-a-key']);
    expect((await rejectionOf(discarded.exec())).code).toBe('CG_ERR_TRANSACTION_ABORTED');
    expect(await stack.redis.command('GET', 'm')).toBeNull();
  });

  it('503 CG_ERR_REDIS_UNAVAILABLE once Redis is gone: isUnavailable, and an outage to getOrSet', async () => {
    await stack.redis.stop();
    const error = await rejectionOf(client().get('k'));
    expect(error.code).toBe('CG_ERR_REDIS_UNAVAILABLE');
    expect(isUnavailable(error)).toBe(true);
    // An outage to the cache-aside helpers as well: the loader still answers.
    expect(await client().getOrSet('k', () => 'loaded')).toBe('loaded');
  });
});

describe('every code of the catalog, as an HTTP server answers it', () => {
  let server: Server;
  let answer: { status: number; headers: Record<string, string> } = { status: 200, headers: {} };
  const client = () =>
    new Cachegate({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      token: TOKENS.write,
      retry: false,
    });

  beforeAll(async () => {
    server = createServer((_request, response) => {
      response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      response.end('{"error":"answered by the test server"}');
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  });
  afterAll(() => new Promise((closed) => server.close(closed)));

  it.each(Object.entries(GATEWAY_ERRORS))('%s (%i) reaches the caller as itself', async (code, status) => {
    answer = { status, headers: { 'cachegate-error-code': code } };
    const error = await rejectionOf(client().get('k'));
    expect(error.code).toBe(code);
    expect(isUnavailable(error)).toBe(status === 503);
  });

  it.each([
    [401, 'CG_ERR_AUTH_INVALID'],
    [403, 'CG_ERR_COMMAND_DENIED'],
    [413, 'CG_ERR_BODY_TOO_LARGE'],
    [429, 'CG_ERR_RATE_LIMITED'],
    [400, 'CG_ERR_REDIS_ERROR'],
    [502, 'CG_ERR_UNAVAILABLE'],
    [503, 'CG_ERR_UNAVAILABLE'],
    [418, 'CG_ERR_HTTP_STATUS'],
  ])('without Cachegate-Error-Code (Upstash, a proxy), %i is inferred as %s', async (status, code) => {
    answer = { status, headers: {} };
    expect((await rejectionOf(client().get('k'))).code).toBe(code);
  });

  it('a code this SDK does not know falls back to the status', async () => {
    answer = { status: 403, headers: { 'cachegate-error-code': 'CG_ERR_FROM_A_NEWER_GATEWAY' } };
    expect((await rejectionOf(client().get('k'))).code).toBe('CG_ERR_COMMAND_DENIED');
  });
});
