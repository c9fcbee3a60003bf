import { gatewayError } from '../../errors.js';
import type { Route } from '../../http/router.js';
import { databaseName } from '../../redis/databases.js';
import { ErrorReply } from '../../redis/resp.js';
import type { Command, Reply } from '../../redis/types.js';
import { storedJson } from '../cache/reply.js';
import { cacheErrors } from '../cache/schemas.js';
import type { Services } from '../services.js';

/** Entries answered when `limit` is not given. */
const DEFAULT_LIMIT = 100;

const entrySchema = {
  type: 'object',
  required: ['key', 'reads', 'type'],
  additionalProperties: false,
  properties: {
    key: { type: 'string' },
    reads: {
      type: 'integer',
      description: 'About how many reads, older ones counting less (halved every minute)',
    },
    type: { type: 'string', description: 'TYPE of the key now; "none" when it no longer exists' },
    value: { description: 'The value as GET /v1/cache/{key} shows it; only for type "string"' },
    ttl: {
      type: ['integer', 'null'],
      description: 'Seconds left, null without expiry; only for type "string"',
    },
  },
} as const;

/**
 * `GET /v1/admin/hot-keys?limit=N`, admin tokens only: the keys the callers of the token's database read
 * most, most read first, summed over this host's gateway processes, each with its type and, for strings,
 * its value and TTL in the cache API's shape (what `cachegate hot-keys` prints for `cachegate warm`).
 */
export function hotKeysRoute({ executor, warming }: Services): Route {
  return {
    path: '/v1/admin/hot-keys',
    operations: {
      GET: {
        handle: async (ctx) => {
          const caller = ctx.caller;
          if (caller.scope !== 'admin') {
            throw gatewayError(
              'CG_ERR_COMMAND_DENIED',
              'GET /v1/admin/hot-keys needs a token with scope "admin"',
            );
          }
          if (!warming.isOn) {
            throw gatewayError(
              'CG_ERR_ROUTE_NOT_FOUND',
              'The hot set is off on this gateway (CACHEGATE_HOT_KEYS=0)',
            );
          }
          const limit = limitOf(ctx.query, warming.capacity);
          const database = databaseName(caller);
          const { keys, processes } = await warming.hotKeys(database, limit);
          const commands: Command[] = [];
          for (const { key } of keys) commands.push(['TYPE', key], ['GET', key], ['TTL', key]);
          const replies =
            commands.length === 0
              ? []
              : (await executor.run(caller, 'pipeline', commands, 'text', ctx.answer)).replies;
          if (ctx.isGone) return;
          const max = ctx.answer.budget.maxPerAnswer;
          const entries = keys.map(({ key, reads }, i) =>
            entryJson(key, reads, replies.slice(i * 3, i * 3 + 3), max),
          );
          ctx.send(
            200,
            `{"database":${JSON.stringify(database)},"processes":${processes},"entries":[${entries.join(',')}]}`,
          );
        },
        doc: {
          summary: 'The most read keys (admin)',
          description:
            "Keys read most by the callers of the token's database (reads only; a top-K sketch of CACHEGATE_HOT_KEYS keys per database and process, summed over the processes of CACHEGATE_WORKERS), most read first. Query: limit (1 to CACHEGATE_HOT_KEYS, default 100). 404 when CACHEGATE_HOT_KEYS=0.",
          tags: ['admin'],
          responses: {
            200: {
              schema: {
                type: 'object',
                required: ['database', 'processes', 'entries'],
                additionalProperties: false,
                properties: {
                  database: { type: 'string' },
                  processes: { type: 'integer', description: 'Gateway processes whose reads are summed' },
                  entries: { type: 'array', items: entrySchema },
                },
              },
            },
            ...cacheErrors,
            404: {
              description: 'The hot set is off (CACHEGATE_HOT_KEYS=0)',
              schema: cacheErrors[400]?.schema ?? {},
            },
          },
        },
      },
    },
  };
}

function limitOf(query: string, capacity: number): number {
  const given = new URLSearchParams(query).get('limit');
  if (given === null || given === '') return Math.min(DEFAULT_LIMIT, capacity);
  const limit = Number(given);
  if (!/^\d+$/.test(given) || limit < 1 || limit > capacity) {
    throw gatewayError(
      'CG_ERR_REQUEST_INVALID',
      `limit must be a whole number from 1 to ${capacity} (CACHEGATE_HOT_KEYS)`,
    );
  }
  return limit;
}

/** One entry: type from TYPE; value and TTL for strings, as the cache API's GET shows them. */
function entryJson(key: string, reads: number, [type, value, ttl]: Reply[], maxBytes: number): string {
  const head = `{"key":${JSON.stringify(key)},"reads":${Math.round(reads)}`;
  const typeName = typeof type === 'string' ? type : 'none';
  if (typeName !== 'string' || value === null || value === undefined || value instanceof ErrorReply) {
    return `${head},"type":${JSON.stringify(typeName === 'string' ? 'none' : typeName)}}`;
  }
  const seconds = typeof ttl === 'number' && ttl >= 0 ? ttl : null;
  return `${head},"type":"string","value":${storedJson(value, maxBytes)},"ttl":${seconds}}`;
}
