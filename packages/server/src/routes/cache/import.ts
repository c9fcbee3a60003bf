import { gatewayError } from '../../errors.js';
import type { Route } from '../../http/router.js';
import { ErrorReply } from '../../redis/resp.js';
import type { Command } from '../../redis/types.js';
import type { Services } from '../services.js';
import { checkKey } from './key.js';
import { parseEntryLine } from './ndjson.js';
import { cacheErrors } from './schemas.js';

const NEWLINE = 0x0a;

/** A line that could not be stored, by its number in the body (1-based). */
interface LineProblem {
  line: number;
  key?: string;
  error: string;
}

/**
 * `POST /v1/cache/import[?onlyMissing=true]`: many entries at once as NDJSON lines, the cache API's entry shape
 * (`{"key", "value", "ttl"?}`, `ttl` may be null), checked line by line as `PUT /v1/cache/:key` checks its body
 * and stored as it stores them, in one pipeline of `SET key <JSON> [EX ttl] [NX]` (decision 0035). Not atomic: a
 * bad line or a refused `SET` fails that line only. Answers
 * `{"loaded", "skipped", "invalid": [{"line", "error"}], "failed": [{"line", "key", "error"}]}`.
 * At most CACHEGATE_MAX_PIPELINE lines (blank lines aside). `cachegate warm` sends its batches here.
 */
export function importRoute({ config, executor }: Services): Route {
  const problemSchema = {
    type: 'object',
    required: ['line', 'error'],
    additionalProperties: false,
    properties: { line: { type: 'integer' }, key: { type: 'string' }, error: { type: 'string' } },
  };
  return {
    path: '/v1/cache/import',
    operations: {
      POST: {
        handle: async (ctx) => {
          const onlyMissing = onlyMissingOf(ctx.query);
          const body = ctx.body ?? Buffer.alloc(0);
          const invalid: LineProblem[] = [];
          const lines: number[] = [];
          const keys: string[] = [];
          const commands: Command[] = [];
          let count = 0;
          let number = 0;
          for (let start = 0; start < body.length; ) {
            const found = body.indexOf(NEWLINE, start);
            const end = found === -1 ? body.length : found;
            number++;
            const text = body.toString('utf8', start, end);
            start = end + 1;
            if (text.trim() === '') continue;
            if (++count > config.maxPipeline) {
              throw gatewayError(
                'CG_ERR_PIPELINE_TOO_LARGE',
                `More than ${config.maxPipeline} entries in one import (CACHEGATE_MAX_PIPELINE)`,
              );
            }
            const entry = parseEntryLine(text, config.maxJsonDepth);
            if ('reason' in entry) {
              invalid.push({ line: number, error: entry.reason });
              continue;
            }
            try {
              checkKey(entry.key, config.maxKeyBytes);
            } catch (error) {
              invalid.push({ line: number, error: (error as Error).message });
              continue;
            }
            const command: Command = ['SET', entry.key, entry.text];
            if (entry.ttl !== undefined) command.push('EX', String(entry.ttl));
            if (onlyMissing) command.push('NX');
            commands.push(command);
            lines.push(number);
            keys.push(entry.key);
          }
          let loaded = 0;
          let skipped = 0;
          const failed: LineProblem[] = [];
          if (commands.length > 0) {
            const { replies } = await executor.run(ctx.caller, 'pipeline', commands, 'text');
            replies.forEach((reply, i) => {
              if (reply instanceof ErrorReply) {
                failed.push({ line: lines[i] as number, key: keys[i] as string, error: reply.message });
              } else if (reply === null) skipped++;
              else loaded++;
            });
          }
          ctx.send(200, JSON.stringify({ loaded, skipped, invalid, failed }));
        },
        doc: {
          summary: 'Store many entries from NDJSON lines',
          description:
            'One entry per line, {"key", "value", "ttl"?} (ttl in seconds, or null for no expiry), checked as PUT /v1/cache/{key} checks its body and stored the same way, in one pipeline (not atomic: a bad line fails alone). ' +
            'Query: onlyMissing=true stores only keys that do not exist (SET NX); the others count as skipped. Lines are numbered from 1, blank lines included. At most CACHEGATE_MAX_PIPELINE entries.',
          tags: ['cache'],
          requestBody: { type: 'string', format: 'binary', description: 'NDJSON: one entry per line' },
          responses: {
            200: {
              schema: {
                type: 'object',
                required: ['loaded', 'skipped', 'invalid', 'failed'],
                additionalProperties: false,
                properties: {
                  loaded: { type: 'integer', description: 'Entries stored' },
                  skipped: { type: 'integer', description: 'Entries whose key existed (onlyMissing)' },
                  invalid: {
                    type: 'array',
                    description: 'Lines that are not valid entries',
                    items: problemSchema,
                  },
                  failed: { type: 'array', description: 'Entries Redis refused', items: problemSchema },
                },
              },
            },
            ...cacheErrors,
          },
        },
      },
    },
  };
}

function onlyMissingOf(query: string): boolean {
  const params = new URLSearchParams(query);
  for (const name of params.keys()) {
    if (name !== 'onlyMissing' && name !== '_token') {
      throw gatewayError('CG_ERR_REQUEST_INVALID', `Unknown query parameter "${name}"; allowed: onlyMissing`);
    }
  }
  const value = params.get('onlyMissing');
  if (value === null || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1' || value === '') return true;
  throw gatewayError('CG_ERR_REQUEST_INVALID', 'onlyMissing must be true or false');
}
