import { ErrorReply } from '../../redis/resp.js';
import type { Command, Reply } from '../../redis/types.js';
import type { Item, Rejected, Source, SourceBatch } from './items.js';
import type { RedisEndpoint } from './redis-endpoint.js';

/** Options of {@link redisSource}. */
export interface RedisSourceOptions {
  redis: RedisEndpoint;
  /** SCAN's MATCH pattern. @default every key */
  match?: string | undefined;
  /** SCAN's TYPE (string, hash, list, set, zset, stream...). @default every type */
  type?: string | undefined;
  /** A SCAN cursor to start from (a previous run's resume position). @default "0" */
  resumeFrom?: string | undefined;
}

/**
 * Every key of another Redis: SCAN pages (positions are SCAN cursors, so an interrupted run resumes where it
 * stopped), each page read with DUMP and PTTL when its batch runs, so that pages dump in parallel. DUMP and
 * RESTORE keep every type and every TTL; a key that vanished between SCAN and DUMP is left out.
 */
export function redisSource(options: RedisSourceOptions): Source {
  const { redis } = options;
  let total: number | undefined;
  let seen = 0;
  return {
    fraction: () => (total ? Math.min(1, seen / total) : undefined),
    close: () => redis.close(),
    async *batches(size: number): AsyncGenerator<SourceBatch> {
      if (options.match === undefined && options.type === undefined) {
        const [count] = await redis.run([['DBSIZE']]);
        if (typeof count === 'number') total = count;
      }
      let cursor = options.resumeFrom ?? '0';
      do {
        const scan: Command = ['SCAN', cursor, 'COUNT', String(size)];
        if (options.match !== undefined) scan.push('MATCH', options.match);
        if (options.type !== undefined) scan.push('TYPE', options.type);
        const [reply] = await redis.run([scan]);
        if (reply instanceof ErrorReply) throw reply;
        const [next, keys] = reply as [Buffer, Buffer[]];
        const from = cursor;
        cursor = String(next);
        seen += keys.length;
        if (keys.length > 0) {
          yield { read: () => dump(redis, keys), resumeFrom: from, next: cursor, size: keys.length };
        }
      } while (cursor !== '0');
    },
  };
}

async function dump(redis: RedisEndpoint, keys: Buffer[]): Promise<{ items: Item[]; rejected: Rejected[] }> {
  const replies = await redis.run(
    keys.flatMap((key): Command[] => [
      ['DUMP', key],
      ['PTTL', key],
    ]),
  );
  const items: Item[] = [];
  const rejected: Rejected[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as Buffer;
    const payload: Reply | undefined = replies[2 * i];
    const ttl = replies[2 * i + 1];
    const where = `key ${JSON.stringify(key.toString('utf8'))}`;
    if (payload instanceof ErrorReply) rejected.push({ where, reason: payload.message });
    else if (Buffer.isBuffer(payload) && ttl !== -2) {
      // PTTL -1: no expiry (RESTORE's 0); 0: expiring now, which RESTORE's 0 would make eternal.
      const ttlMs = typeof ttl === 'number' && ttl >= 0 ? Math.max(1, ttl) : 0;
      items.push({ kind: 'dump', key, payload, ttlMs, where });
    }
  }
  return { items, rejected };
}
