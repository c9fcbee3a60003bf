import { gatewayError } from '../../errors.js';
import type { RequestContext } from '../../http/context.js';
import type { Route } from '../../http/router.js';
import type { StopMonitor } from '../../redis/monitor.js';
import type { Services } from '../services.js';
import { acceptsEventStream, event, HEARTBEAT_MS, writeEvent } from './event-stream.js';
import { commonResponses, errorResponseSchema } from './schemas.js';

/**
 * `POST /monitor`: Redis MONITOR as a stream of server-sent events, as Upstash's REST API documents it
 * (docs "REST API", section "Monitor Command", upstash/docs `redis/features/restapi.mdx`):
 * `data: "OK"` first (quoted, as documented), then one event per MONITOR line as Redis writes it, unquoted:
 * `data: 1721284005.242090 [0 0.0.0.0:0] "GET" "k"`. Lines never hold a newline (Redis escapes them), so
 * each is one `data:` line. Admin tokens only; every stream has a Redis connection of its own, closed when
 * the client goes away, when the gateway shuts down, or (ending the stream) when Redis is lost.
 */
export function monitorRoute({ executor, drain, config }: Services): Route {
  const handle = async (ctx: RequestContext) => {
    if (!acceptsEventStream(ctx.req.headers.accept)) {
      throw gatewayError('CG_ERR_NOT_ACCEPTABLE', 'POST /monitor answers with text/event-stream only');
    }
    // Taken before anything is opened on Redis, and given back however the stream ends.
    const res = ctx.res;
    const slot = drain.streams.open(ctx.caller, res, config.maxStreams);
    const reservation = ctx.answer;
    let isOpen = true;
    let stop: StopMonitor | undefined;
    const write = (text: string) => {
      if (isOpen) writeEvent(res, reservation, text, end);
    };
    const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
    const end = () => {
      if (!isOpen) return;
      isOpen = false;
      clearInterval(heartbeat);
      slot.release();
      stop?.();
      res.end();
    };
    slot.end = end;
    res.once('close', end);
    try {
      stop = await executor.monitor(ctx.caller, { listener: (line) => write(event(line)), onEnd: end });
    } catch (error) {
      isOpen = false;
      clearInterval(heartbeat);
      slot.release();
      throw error;
    }
    // The client left, the token was revoked, or Redis ended the stream, while it was being opened.
    if (!isOpen || res.destroyed) {
      stop();
      return end();
    }
    ctx.stream('text/event-stream');
    res.write(event('"OK"'));
  };
  return {
    path: '/monitor',
    operations: {
      POST: {
        handle,
        doc: {
          summary: 'Stream every command Redis runs (MONITOR, server-sent events)',
          description:
            'Admin tokens only. The first event is `data: "OK"`, then one `data: <line>` event per line of ' +
            'Redis MONITOR output. Each stream holds a Redis connection of its own; at most ' +
            'CACHEGATE_MAX_MONITORS are open at once (then 503). In Cluster mode the stream merges every ' +
            'master and ends when any of them is lost. MONITOR costs Redis throughput: use it briefly.',
          tags: ['commands'],
          headers: {
            properties: {
              accept: {
                type: 'string',
                description: 'Must allow `text/event-stream` (or be absent); anything else gets 406.',
              },
            },
          },
          responses: {
            200: { description: 'A stream of "data: ..." events', contentType: 'text/event-stream' },
            ...commonResponses,
            403: { description: 'The token is not an admin token', schema: errorResponseSchema },
            406: {
              description: 'The Accept header rules out text/event-stream',
              schema: errorResponseSchema,
            },
            503: {
              description: 'Redis unavailable, or CACHEGATE_MAX_MONITORS streams already open',
              schema: errorResponseSchema,
            },
          },
        },
      },
    },
  };
}
