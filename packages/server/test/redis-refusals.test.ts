import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../../../deploy/test/helpers/tls.js';
import { hasTool } from '../../../deploy/test/helpers/tools.js';
import { buildApp, type Gateway } from '../src/app.js';
import { createLogger } from '../src/log.js';
import { freePort } from '../src/redis/embedded.js';
import {
  spawnGateway,
  spawnReadyGateway,
  type TestResponse,
  TOKENS,
  testConfig,
  waitFor,
} from './helpers/gateway.js';
import { directCommand, startTestRedis, type TestRedis } from './helpers/redis.js';

/**
 * Why Redis refused, said plainly: in every log format and on /health, in fixed words with the error's code.
 * Refused credentials at start stop the process (exit 2); any other failure, or a refusal after the gateway
 * was up, keeps it retrying with the reason shown (decision 0030).
 */

const PASSWORD = 'refusals-right-password-0123';
const WRONG = 'refusals-wrong-password-4567';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis({ password: PASSWORD });
});
afterAll(() => redis?.stop());

const gatewayEnv = (env: Record<string, string>) => ({
  REDIS_URL: redis.url,
  CACHEGATE_TOKEN: TOKENS.write,
  PORT: '0',
  HOST: '127.0.0.1',
  ...env,
});

describe('credentials Redis refuses at start', () => {
  it.each(['pretty', 'json'])('stop the gateway with exit 2 and the reason, in %s logs', async (format) => {
    const gateway = spawnGateway(
      gatewayEnv({ CACHEGATE_REDIS_PASSWORD: WRONG, CACHEGATE_LOG_FORMAT: format }),
    );
    expect(await gateway.exited).toBe(2);
    const output = gateway.output();
    expect(output).toContain('Redis refused the username or password (WRONGPASS)');
    expect(output).toContain('CACHEGATE_REDIS_PASSWORD');
    expect(output).not.toContain(WRONG);
    if (format === 'pretty') expect(output).toMatch(/^\S+ FATAL Redis refused the gateway's login at start/m);
    else expect(output).toContain('"reason":"Redis refused the username or password (WRONGPASS)"');
  });

  it('a Redis that wants a password and gets none says NOAUTH, and the gateway stops', async () => {
    const gateway = spawnGateway(gatewayEnv({ CACHEGATE_LOG_FORMAT: 'pretty' }));
    expect(await gateway.exited).toBe(2);
    expect(gateway.output()).toContain('Redis requires a password and none was sent (NOAUTH)');
  });
});

describe('credentials refused once the gateway was up', () => {
  let gateway: Awaited<ReturnType<typeof spawnReadyGateway>> | undefined;
  afterAll(async () => {
    gateway?.child.kill('SIGTERM');
    await gateway?.exited;
  });

  it('keep it running and retrying, with the reason on /health, until the password works again', async () => {
    gateway = await spawnReadyGateway({
      REDIS_URL: redis.url,
      CACHEGATE_REDIS_PASSWORD: PASSWORD,
      CACHEGATE_TOKEN: TOKENS.write,
      CACHEGATE_LOG_FORMAT: 'pretty',
    });
    const base = gateway.base;
    const rotated = 'refusals-rotated-password-89';
    // The password changes on the server and every client is cut off: the gateway comes back with the old one.
    await directCommand(redis.url, ['CONFIG', 'SET', 'requirepass', rotated], PASSWORD);
    await directCommand(redis.url, ['CLIENT', 'KILL', 'TYPE', 'normal'], rotated).catch(() => undefined);
    await waitFor(
      async () =>
        (await healthOf(base)).redis.reason === 'Redis refused the username or password (WRONGPASS)',
      10_000,
      '/health never said WRONGPASS',
    );
    expect(gateway.child.exitCode).toBeNull();
    expect(gateway.output()).toContain('reason=Redis refused the username or password (WRONGPASS)');
    expect(gateway.output()).not.toContain(PASSWORD);
    await directCommand(redis.url, ['CONFIG', 'SET', 'requirepass', PASSWORD], rotated);
    await waitFor(async () => (await fetch(`${base}/readyz`)).ok, 10_000, 'the gateway never recovered');
  });
});

/** A gateway built in-process whose Redis is not reachable, with its log lines written as `format`. */
async function unreadyGateway(
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<{ app: Gateway; base: string; logs: () => string }> {
  const sink = new PassThrough();
  let logs = '';
  sink.on('data', (chunk: Buffer) => {
    logs += chunk.toString();
  });
  const logger = createLogger('warn', 'pretty', sink as unknown as NodeJS.WriteStream);
  const app = await buildApp(testConfig(redisUrl, { CACHEGATE_COMMAND_TIMEOUT_MS: '1000', ...env }), {
    logger,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, base: `http://127.0.0.1:${port}`, logs: () => logs };
}

/** The body of `GET /health`. */
async function healthOf(base: string): Promise<{ redis: { reason?: string } }> {
  return (await fetch(`${base}/health`)).json() as Promise<{ redis: { reason?: string } }>;
}

/** The reason /health gives once it has one other than "not connected". */
async function healthReason(base: string): Promise<string> {
  let reason = '';
  await waitFor(
    async () => {
      const response = (await fetch(`${base}/health`)) as TestResponse;
      expect(response.status).toBe(503);
      reason = (await response.json()).redis.reason;
      return reason !== 'not connected';
    },
    10_000,
    'no reason on /health',
  );
  return reason;
}

describe('a Redis the gateway cannot reach', () => {
  it('is "connection refused (ECONNREFUSED)" on /health and /readyz, and in the readable log', async () => {
    const port = await freePort();
    const { app, base, logs } = await unreadyGateway(`redis://127.0.0.1:${port}`);
    try {
      expect(await healthReason(base)).toBe('connection refused (ECONNREFUSED)');
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        status: 'unavailable',
        reason: 'connection refused (ECONNREFUSED)',
      });
      expect(logs()).toMatch(
        /WARN {2}Redis connection error; retrying .*reason=connection refused \(ECONNREFUSED\)/,
      );
      expect(logs()).toContain(`err=connect ECONNREFUSED 127.0.0.1:${port}`);
      // Not an address on the public routes.
      expect(JSON.stringify(await healthOf(base))).not.toContain(String(port));
    } finally {
      await app.close();
    }
  });

  it('over rediss:// to a plain-text Redis, is a TLS handshake failure', async () => {
    const { app, base } = await unreadyGateway(`rediss://127.0.0.1:${redis.port}`, {
      CACHEGATE_REDIS_PASSWORD: PASSWORD,
    });
    try {
      expect(await healthReason(base)).toMatch(/^TLS handshake failed: /);
    } finally {
      await app.close();
    }
  });
});

describe.runIf(hasTool('openssl', ['version']))(
  'a TLS Redis whose certificate the gateway does not trust',
  () => {
    let scratch: string;
    let pki: TestPki;
    let tlsRedis: ChildProcess;
    let port: number;
    beforeAll(async () => {
      scratch = mkdtempSync(join(tmpdir(), 'cachegate-refusals-tls-'));
      pki = makeTestPki(scratch);
      port = await freePort();
      tlsRedis = spawn(
        'redis-server',
        [
          ...['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--dir', scratch],
          ...['--save', '', '--appendonly', 'no', '--tls-auth-clients', 'no'],
          ...['--tls-cert-file', pki.cert, '--tls-key-file', pki.key, '--tls-ca-cert-file', pki.caCert],
        ],
        { stdio: 'ignore' },
      );
      const accepts = () =>
        new Promise<boolean>((done) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.destroy();
            done(true);
          });
          socket.on('error', () => done(false));
        });
      await waitFor(accepts, 10_000, 'the TLS Redis never listened');
    });
    afterAll(async () => {
      tlsRedis?.kill('SIGTERM');
      if (tlsRedis?.exitCode === null) await new Promise((done) => tlsRedis.once('exit', done));
      rmSync(scratch, { recursive: true, force: true });
    });

    it('says the certificate is not trusted, or that a redis:// login was dropped, and comes up given the CA', async () => {
      const untrusted = await unreadyGateway(`rediss://localhost:${port}`);
      try {
        expect(await healthReason(untrusted.base)).toMatch(
          /^TLS: the server certificate (chain )?is not trusted \(\w+\)$/,
        );
      } finally {
        await untrusted.app.close();
      }
      const plain = await unreadyGateway(`redis://localhost:${port}`);
      try {
        expect(await healthReason(plain.base)).toBe(
          'Redis closed the connection during the login (a TLS port needs rediss://)',
        );
      } finally {
        await plain.app.close();
      }
      const trusted = await unreadyGateway(`rediss://localhost:${port}`, {
        CACHEGATE_REDIS_TLS_CA: pki.caCert,
      });
      try {
        await waitFor(() => trusted.app.backend.isReady, 10_000, 'never connected with the CA');
      } finally {
        await trusted.app.close();
      }
    });
  },
);
