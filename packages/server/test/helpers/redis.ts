import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { type RedisServer, startRedisServer } from '../../src/redis/embedded.js';

/** A real redis-server for one test file, on a free port, with a scratch directory removed on stop. */
export interface TestRedis extends RedisServer {
  /** Runs one command on a fresh direct connection (for arranging and checking state behind the gateway). */
  command(...args: string[]): Promise<unknown>;
  /** Restarts a stopped or killed server on the same port and data directory. */
  restart(): Promise<TestRedis>;
}

/** Starts redis-server the same way the embedded mode does, without persistence unless asked. */
export async function startTestRedis(
  options: { config?: string[]; password?: string } = {},
): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'cachegate-redis-'));
  const config = ['appendonly no', 'save ""', ...(options.config ?? [])];
  const launch = async (port?: number): Promise<TestRedis> => {
    const server = await startRedisServer({
      dir,
      config,
      ...(port === undefined ? {} : { port }),
      ...(options.password ? { password: options.password } : {}),
    });
    return {
      ...server,
      command: (...args) => directCommand(server.url, args, options.password),
      restart: () => launch(server.port),
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
  return launch();
}

/** Runs one command on a fresh direct connection (no retries: a dead server fails at once). */
export async function directCommand(url: string, args: string[], password?: string): Promise<unknown> {
  const client = createClient({
    url,
    ...(password ? { password } : {}),
    socket: { reconnectStrategy: false },
  });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}
