import type { ExecutionMode } from '../../core/executor.js';
import type { Route } from '../../http/router.js';
import type { Services } from '../services.js';
import { commandListSchema, commonResponses, encodingHeader, itemsResponseSchema } from './schemas.js';
import { commandsFromBody, replyFormOf, sendItems } from './wire.js';

/**
 * The routes that take a JSON array of commands and answer one item per command:
 * - `POST /pipeline`: sent to Redis back to back without waiting in between; not atomic, each command
 *   succeeds or fails on its own and a failure never stops the rest;
 * - `POST /multi-exec`: atomically inside MULTI/EXEC, written as one block so that concurrent
 *   transactions never interleave or nest. Commands that fail at run time are `{"error"}` items; a
 *   transaction Redis discards (EXECABORT) is a 400 for the whole request.
 */
export function batchRoutes({ config, executor, syncToken }: Services): Route[] {
  const route = (path: string, mode: ExecutionMode, summary: string): Route => ({
    path,
    operations: {
      POST: {
        handle: async (ctx) => {
          const commands = commandsFromBody(ctx, config.maxPipeline, path);
          const form = replyFormOf(ctx, mode === 'pipeline');
          const seen = syncToken.seen(ctx.req.headers['upstash-sync-token']);
          const batch = await executor.run(ctx.caller, mode, commands, form, ctx.answer, seen);
          await sendItems(ctx, syncToken, batch, form);
        },
        doc: {
          summary,
          tags: ['commands'],
          headers: encodingHeader,
          requestBody: commandListSchema,
          responses: {
            200: { description: 'One item per command', schema: itemsResponseSchema },
            ...commonResponses,
          },
        },
      },
    },
    documentedNotAllowed: ['GET', 'PUT', 'DELETE', 'PATCH'],
  });
  return [
    route('/pipeline', 'pipeline', 'Run many commands, pipelined'),
    route('/multi-exec', 'transaction', 'Run many commands atomically (MULTI/EXEC)'),
  ];
}
