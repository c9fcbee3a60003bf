import { gatewayError } from '../../errors.js';
import type { RequestContext } from '../../http/context.js';
import type { Route } from '../../http/router.js';
import type { SubscriptionKind, Unsubscribe } from '../../redis/subscriber.js';
import type { Services } from '../services.js';
import { commandFromUrl } from './command.js';
import { admitStream, event, HEARTBEAT_MS, writeEvent } from './event-stream.js';
import { commonResponses } from './schemas.js';

/**
 * `GET|POST /subscribe/<channel>...` and `/psubscribe/<pattern>...`: Redis pub/sub as a stream of
 * server-sent events, as the Upstash REST API serves it (`redis.subscribe()` in `@upstash/redis`):
 * `data: subscribe,<channel>,<count>` once subscribed, then `data: message,<channel>,<message>` (or
 * `data: pmessage,<pattern>,<channel>,<message>`). Subscriptions live on a pub/sub connection of their own;
 * the stream ends when the client goes away, the gateway shuts down, or the reader falls
 * 4 MiB behind (see writeEvent).
 */
export function subscribeRoutes({ executor, drain, config }: Services): Route[] {
  return (['subscribe', 'psubscribe'] as const satisfies SubscriptionKind[]).map((kind) => {
    const handle = (ctx: RequestContext) => stream(ctx, kind);
    const doc = {
      summary:
        kind === 'subscribe'
          ? 'Subscribe to channels (server-sent events)'
          : 'Subscribe to channel patterns (server-sent events)',
      tags: ['commands'],
      responses: {
        200: { description: 'A stream of "data: ..." events', contentType: 'text/event-stream' },
        ...commonResponses,
      },
    };
    return {
      path: `/${kind}/*`,
      openapiPath: `/${kind}/{${kind === 'subscribe' ? 'channel' : 'pattern'}}`,
      operations: { GET: { handle, doc }, POST: { handle, doc } },
    };
  });

  async function stream(ctx: RequestContext, kind: SubscriptionKind) {
    // The Upstash SDK posts an empty JSON array: only the path names channels.
    const names = commandFromUrl(ctx.path, '', undefined)
      .slice(1)
      .map(String)
      .filter((name) => name !== '');
    if (names.length === 0)
      throw gatewayError('CG_ERR_REQUEST_INVALID', `Name at least one channel: /${kind}/<name>`);
    admitStream(drain, config.maxStreams);
    const res = ctx.res;
    let isOpen = true;
    // Messages may still arrive between the end of the stream and the unsubscription.
    const write = (text: string) => {
      if (isOpen) writeEvent(res, text, end);
    };
    const unsubscribes: Unsubscribe[] = [];
    const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
    const end = () => {
      if (!isOpen) return;
      isOpen = false;
      clearInterval(heartbeat);
      drain.streams.delete(res);
      for (const unsubscribe of unsubscribes) unsubscribe().catch(() => undefined);
      res.end();
    };
    res.once('close', end);
    const events: string[] = [];
    try {
      for (const [index, name] of names.entries()) {
        const listener = (message: Buffer, channel: Buffer) =>
          write(
            kind === 'subscribe'
              ? event('message', channel.toString(), message.toString())
              : event('pmessage', name, channel.toString(), message.toString()),
          );
        unsubscribes.push(await executor.subscribe(ctx.caller, { kind, name, listener, onEnd: end }));
        events.push(event(kind, name, String(index + 1)));
      }
    } catch (error) {
      isOpen = false;
      clearInterval(heartbeat);
      for (const unsubscribe of unsubscribes) unsubscribe().catch(() => undefined);
      throw error;
    }
    if (res.destroyed) return end();
    ctx.stream('text/event-stream');
    drain.streams.add(res);
    for (const text of events) res.write(text);
  }
}
