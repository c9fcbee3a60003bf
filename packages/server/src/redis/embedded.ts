import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join, resolve } from 'node:path';

/** Options for {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Directory for the data, AOF and generated config. Created when missing. */
  dir: string;
  /** Password required by the server (`requirepass`). @default none */
  password?: string;
  /** Extra config lines, e.g. `['appendonly yes']` or `['cluster-enabled yes']`. @default [] */
  config?: string[];
  /** Port to bind; a restart passes the port of the server it replaces. @default a free port from the OS */
  port?: number;
  /** The executable to run, e.g. `redis-sentinel`. @default 'redis-server' */
  executable?: string;
  /** How long to wait for the server to accept connections. @default 10000 */
  startTimeoutMs?: number;
}

/** A `redis-server` child process on a free loopback port. */
export interface RedisServer {
  readonly port: number;
  /** `redis://` URL without the password. */
  readonly url: string;
  readonly process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and resolves once it has exited. */
  stop(): Promise<void>;
  /** Stops the server at once with SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

/** Thrown when no `redis-server` executable can be found on PATH. */
export class RedisServerMissingError extends Error {
  readonly code = 'CG_ERR_REDIS_SERVER_MISSING';
  constructor(executable: string) {
    super(
      `'${executable}' was not found on PATH. The embedded development Redis needs it.\n` +
        '  Debian/Ubuntu: sudo apt-get install -y redis-server\n' +
        '  macOS:         brew install redis\n' +
        '  Or point cachegate at an existing Redis: REDIS_URL=redis://host:6379',
    );
    this.name = 'RedisServerMissingError';
  }
}

/** True when `executable` can be run. */
function isRedisServerInstalled(executable = 'redis-server'): boolean {
  const probe = spawnSync(executable, ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

/**
 * Starts a `redis-server` bound to 127.0.0.1 on a free port, with its config, data and AOF under `dir`.
 * Used by the embedded development mode and by the test helpers, so both run Redis the same way.
 *
 * Redis's own `--port 0` disables TCP, so the port comes from the OS; another process may take it between
 * the probe and Redis's bind, so an `Address already in use` start is retried on a new port.
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const executable = options.executable ?? 'redis-server';
  if (!isRedisServerInstalled(executable)) throw new RedisServerMissingError(executable);
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (options.port !== undefined) return launch(executable, dir, options.port, options);
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      return await launch(executable, dir, port, options);
    } catch (error) {
      lastError = error as Error;
      if (!/already in use/i.test(lastError.message)) throw lastError;
    }
  }
  throw lastError ?? new Error('redis-server did not start');
}

async function launch(executable: string, dir: string, port: number, options: RedisServerOptions) {
  // The password goes in a 0600 file rather than argv, where `ps` would show it.
  const configPath = join(dir, 'redis.conf');
  const lines = [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    'daemonize no',
    'logfile ""',
    ...(options.password ? [`requirepass ${options.password}`] : []),
    ...(options.config ?? []),
  ];
  writeFileSync(configPath, `${lines.join('\n')}\n`, { mode: 0o600 });
  const child = spawn(executable, [configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    if (output.length < 64 * 1024) output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    if (output.length < 64 * 1024) output += chunk.toString();
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  running.add(child);
  void exited.then(() => running.delete(child));
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  while (!(await answersPing(port))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited during start-up:\n${output.trim()}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not accept connections within the start timeout:\n${output.trim()}`);
    }
    await sleep(20);
  }
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(force);
    }
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    process: child,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
  } satisfies RedisServer;
}

/**
 * Servers started by this process. If it ends without stopping them (a crash, a test worker torn down),
 * they are killed with it rather than left behind as orphans.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A random password for servers that only this process talks to. */
export function generateSecret(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** True once the server answers PING (or asks for a password): up, and done loading its data. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(1000, () => socket.destroy());
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk: Buffer) => {
      socket.destroy();
      done(/^(\+PONG|-NOAUTH)/.test(chunk.toString()));
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
