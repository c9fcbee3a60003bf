import { ErrorReply } from '../../redis/resp.js';
import type { Command, Reply } from '../../redis/types.js';
import type { DumpItem, Item, Outcome, Target, ValueItem } from './items.js';
import type { RedisEndpoint } from './redis-endpoint.js';
import { withRetries } from './retries.js';

/**
 * Writes straight into a Redis (standalone, Sentinel or Cluster: see {@link RedisEndpoint}), for operators:
 * `SET key <text> [EX ttl] [NX]` for entries, `RESTORE key <ttl> <payload> [REPLACE]` for dumped keys, one
 * pipeline per batch. With `onlyMissing`, NX and no REPLACE: a key that exists is left as it is (skipped).
 * A batch whose connection failed (a failover, a restart) is sent again, with backoff, a few times (both
 * commands are safe to repeat); past that the run stops.
 */
export function redisTarget(redis: RedisEndpoint): Target {
  return {
    close: () => redis.close(),
    write: async (items, onlyMissing) => {
      // NDJSON reaches it parsed: unparsed lines are for a gateway's import route.
      const commands = items.map((item) => commandFor(item as ValueItem | DumpItem, onlyMissing));
      const replies: Reply[] = await withRetries(() => redis.run(commands));
      return items.map((item, i) => outcomeOf(item, replies[i] ?? null, onlyMissing));
    },
  };
}

/** The command that writes `item`. */
export function commandFor(item: ValueItem | DumpItem, onlyMissing: boolean): Command {
  if (item.kind === 'value') {
    const command: Command = ['SET', item.key, item.text];
    if (item.ttl !== undefined) command.push('EX', String(item.ttl));
    if (onlyMissing) command.push('NX');
    return command;
  }
  const command: Command = ['RESTORE', item.key, String(item.ttlMs), item.payload];
  if (!onlyMissing) command.push('REPLACE');
  return command;
}

/** What a write's reply means: SET NX answers nil, RESTORE without REPLACE answers BUSYKEY, for a key that exists. */
export function outcomeOf(item: Item, reply: Reply, onlyMissing: boolean): Outcome {
  if (reply instanceof ErrorReply) {
    if (onlyMissing && item.kind === 'dump' && reply.message.startsWith('BUSYKEY')) return 'skipped';
    return { failed: reply.message };
  }
  return reply === null ? 'skipped' : 'loaded';
}
