import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { gatewayError } from '../../errors.js';
import type { SubscriptionKind, Unsubscribe } from '../../redis/subscriber.js';
import { commandFromUrl } from './command.js';
import { commonResponses } from './schemas.js';

/** A comment line now and then keeps idle proxies and load balancers from closing a quiet stream. */
const HEARTBEAT_MS = 25_000;

/** One server-sent event carrying `fields` joined by commas, as the Upstash SDK parses them. */
function event(...fields: string[]): string {
  // A newline inside a message starts a new data line; SSE readers join them with "\n".
  return `${fields
    .join(',')
    .split('\n')
    .map((line) => `data: ${line}`)
    .join('\n')}\n\n`;
}

/**
 * `GET|POST /subscribe/<channel>...` and `/psubscribe/<pattern>...`: Redis pub/sub as a stream of
 * server-sent events, as the Upstash REST API serves it (`redis.subscribe()` in `@upstash/redis`):
 * `data: subscribe,<channel>,<count>` once subscribed, then `data: message,<channel>,<message>` (or
 * `data: pmessage,<pattern>,<channel>,<message>`). Subscriptions live on a pub/sub connection of their own;
 * the stream ends when the client goes away or the gateway shuts down.
 */
async function subscribeRoutes(app: FastifyInstance) {
  const streams = new Set<PassThrough>();
  app.addHook('preClose', (done) => {
    for (const stream of streams) stream.end();
    done();
  });

  for (const kind of ['subscribe', 'psubscribe'] as const satisfies SubscriptionKind[]) {
    app.route({
      method: ['GET', 'POST'],
      url: `/${kind}/*`,
      schema: {
        summary:
          kind === 'subscribe'
            ? 'Subscribe to channels (server-sent events)'
            : 'Subscribe to channel patterns (server-sent events)',
        tags: ['commands'],
        produces: ['text/event-stream'],
        response: {
          200: { type: 'string', description: 'A stream of "data: ..." events' },
          ...commonResponses,
        },
      },
      handler: async (request, reply) => {
        // The Upstash SDK posts an empty JSON array: only the path names channels.
        const names = commandFromUrl(request.url, undefined)
          .slice(1)
          .map(String)
          .filter((name) => name !== '');
        if (names.length === 0)
          throw gatewayError('CG_ERR_REQUEST_INVALID', `Name at least one channel: /${kind}/<name>`);
        const stream = new PassThrough();
        // Messages may still arrive between the end of the stream and the unsubscription.
        const write = (text: string) => {
          if (!stream.writableEnded) stream.write(text);
        };
        const unsubscribes: Unsubscribe[] = [];
        const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
        stream.once('close', () => {
          clearInterval(heartbeat);
          streams.delete(stream);
          for (const unsubscribe of unsubscribes) unsubscribe().catch(() => undefined);
        });
        try {
          for (const [index, name] of names.entries()) {
            const listener = (message: Buffer, channel: Buffer) =>
              write(
                kind === 'subscribe'
                  ? event('message', channel.toString(), message.toString())
                  : event('pmessage', name, channel.toString(), message.toString()),
              );
            unsubscribes.push(
              await app.executor.subscribe(request.principal, kind, name, listener, () => stream.end()),
            );
            write(event(kind, name, String(index + 1)));
          }
        } catch (error) {
          stream.destroy();
          throw error;
        }
        streams.add(stream);
        return reply
          .header('content-type', 'text/event-stream')
          .header('cache-control', 'no-cache')
          .header('x-accel-buffering', 'no')
          .send(stream);
      },
    });
  }
}

export default subscribeRoutes;
