import { gatewayError } from '../../errors.js';
import type { RequestContext } from '../../http/context.js';
import type { Route } from '../../http/router.js';
import type { SubscriptionKind, Unsubscribe } from '../../redis/subscriber.js';
import type { Services } from '../services.js';
import { commandFromUrl } from './command.js';
import { event, HEARTBEAT_MS, messageEvent, writeEvent } from './event-stream.js';
import { commonResponses } from './schemas.js';

/**
 * `GET|POST /subscribe/<channel>...` and `/psubscribe/<pattern>...`: Redis pub/sub as a stream of
 * server-sent events, as the Upstash REST API serves it (`redis.subscribe()` in `@upstash/redis`):
 * `data: subscribe,<channel>,<count>` once subscribed, then `data: message,<channel>,<message>` (or
 * `data: pmessage,<pattern>,<channel>,<message>`). Subscriptions live on a pub/sub connection of their own;
 * the stream ends when the client goes away, the gateway shuts down, its token is revoked, or the reader
 * falls 4 MiB behind (see writeEvent).
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
    if (names.length > config.maxStreamChannels) {
      throw gatewayError(
        'CG_ERR_REQUEST_INVALID',
        `One stream may name at most ${config.maxStreamChannels} channels or patterns (CACHEGATE_MAX_STREAM_CHANNELS)`,
      );
    }
    // Taken before anything is subscribed, and given back however the stream ends.
    const res = ctx.res;
    const slot = drain.streams.open(ctx.caller, res, config.maxStreams);
    const reservation = ctx.answer;
    let isOpen = true;
    // Messages may still arrive between the end of the stream and the unsubscription.
    const write = (text: string | undefined) => {
      if (!isOpen) return;
      // A message too large for any reader to keep up with ends the stream as a slow reader would.
      if (text === undefined) {
        end();
        res.destroy();
        return;
      }
      writeEvent(res, reservation, text, end);
    };
    const unsubscribes: Unsubscribe[] = [];
    const unsubscribeAll = () => {
      for (const unsubscribe of unsubscribes.splice(0)) unsubscribe().catch(() => undefined);
    };
    const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
    const end = () => {
      if (!isOpen) return;
      isOpen = false;
      clearInterval(heartbeat);
      slot.release();
      unsubscribeAll();
      res.end();
    };
    slot.end = end;
    res.once('close', end);
    // All at once: one round trip, and every subscription that succeeds is known before the stream goes on,
    // so none outlives it whichever way it ends meanwhile.
    const subscribed = await Promise.allSettled(
      names.map((name) =>
        executor.subscribe(ctx.caller, {
          kind,
          name,
          listener: (message, channel) =>
            write(
              kind === 'subscribe'
                ? messageEvent(['message', channel.toString()], message)
                : messageEvent(['pmessage', name, channel.toString()], message),
            ),
          onEnd: end,
        }),
      ),
    );
    for (const outcome of subscribed) if (outcome.status === 'fulfilled') unsubscribes.push(outcome.value);
    const failed = subscribed.find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined || !isOpen || res.destroyed) {
      if (isOpen) {
        isOpen = false;
        clearInterval(heartbeat);
        slot.release();
      }
      unsubscribeAll();
      if (failed !== undefined) throw failed.reason;
      return;
    }
    ctx.stream('text/event-stream');
    for (const [index, name] of names.entries()) res.write(event(kind, name, String(index + 1)));
  }
}
