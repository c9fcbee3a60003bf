import { type ChildProcess, spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { buildApp, type Gateway } from '../../src/app.js';
import type { TokenStore } from '../../src/auth/token-store.js';
import { type Config, loadConfig } from '../../src/config.js';
import { freePort } from '../../src/redis/embedded.js';

/** Tokens every test gateway accepts, one per scope. */
export const TOKENS = {
  write: 'test-write-token-0123456789',
  read: 'test-read-token-0123456789',
  admin: 'test-admin-token-0123456789',
} as const;

/** A fetch Response whose JSON body is loosely typed: the tests assert its shape. */
// biome-ignore lint/suspicious/noExplicitAny: test assertions check the shape of JSON bodies
export type TestResponse = Omit<Response, 'json'> & { json(): Promise<any> };

/** A gateway built in-process and listening on a free port. */
export interface TestGateway {
  app: Gateway;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** fetch() against the gateway with the write token unless `token` says otherwise (null: none). */
  request(path: string, init?: RequestInit & { token?: string | null }): Promise<TestResponse>;
  close(): Promise<void>;
}

/** Builds the configuration a test gateway runs with: the test tokens, quiet logs, then `env` on top. */
export function testConfig(redisUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    CACHEGATE_REDIS_URL: redisUrl,
    CACHEGATE_TOKEN: TOKENS.write,
    CACHEGATE_READONLY_TOKEN: TOKENS.read,
    CACHEGATE_ADMIN_TOKEN: TOKENS.admin,
    CACHEGATE_LOG_LEVEL: 'silent',
    // The test machine is shared by many processes: a starved event loop must not shed load in tests
    // that are not about shedding load (operations.test.ts turns it on where it is).
    CACHEGATE_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env,
  });
}

/** Starts a gateway on port 0 and waits until Redis is connected and its command table loaded. */
export async function startGateway(
  redisUrl: string,
  env: Record<string, string> = {},
  deps: { tokens?: TokenStore } = {},
): Promise<TestGateway> {
  const config = testConfig(redisUrl, env);
  const logger = pino({ level: process.env.CACHEGATE_TEST_LOG ?? 'silent' });
  const app = await buildApp(config, { logger, ...deps });
  await app.listen({ port: 0, host: '127.0.0.1' });
  await waitFor(() => app.backend.isReady, 10_000, 'gateway never connected to Redis');
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    app,
    url,
    request: (path, init = {}) => {
      const { token = TOKENS.write, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
      return fetch(`${url}${path}`, { ...rest, headers });
    },
    close: () => app.close(),
  };
}

/** Polls `condition` every 20 ms until it holds. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  message: string,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((done) => setTimeout(done, 20));
  }
}

/** The built `cachegate` entry point. */
export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** The gateway as a real process (the built `cachegate` command), for signal and start-up tests. */
export interface GatewayProcess {
  child: ChildProcess;
  /** Everything the process printed so far, stdout and stderr. */
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/**
 * Spawns `node dist/main.js` with exactly `env` (plus PATH unless given) in `cwd`; `stdout` replaces the
 * captured pipe (output() then holds stderr only).
 */
export function spawnGateway(
  env: Record<string, string>,
  options: { cwd?: string; args?: string[]; stdout?: Writable } = {},
): GatewayProcess {
  const child = spawn(process.execPath, [MAIN, ...(options.args ?? [])], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, output: () => output, exited };
}

/**
 * Spawns the gateway on a free port of 127.0.0.1 with `env` and waits until `GET <ready>` answers 2xx
 * (`/readyz`: Redis connected; `/livez`: just listening).
 */
export async function spawnReadyGateway(
  env: Record<string, string>,
  options: { cwd?: string; ready?: '/readyz' | '/livez'; stdout?: Writable } = {},
): Promise<GatewayProcess & { base: string }> {
  const port = await freePort();
  const gateway = spawnGateway(
    { PORT: String(port), HOST: '127.0.0.1', CACHEGATE_LOG_LEVEL: 'warn', ...env },
    options,
  );
  const base = `http://127.0.0.1:${port}`;
  const ready = () =>
    fetch(`${base}${options.ready ?? '/readyz'}`).then(
      (r) => r.ok,
      () => false,
    );
  await waitFor(
    ready,
    20_000,
    `gateway at ${base} never answered ${options.ready ?? '/readyz'}:\n${gateway.output()}`,
  );
  return { ...gateway, base };
}
