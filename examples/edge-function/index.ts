/**
 * An edge function (Cloudflare Workers / Vercel Edge / Deno style `fetch(request, env)`) using the
 * isomorphic client: HTTP only, no TCP sockets, no Node built-ins.
 *
 * - `GET /views/<page>` counts a page view and answers the total;
 * - every request is rate limited per client IP: at most `RATE_LIMIT` requests per 60 s window.
 *
 * Configure CACHEGATE_URL and CACHEGATE_TOKEN as environment bindings (Workers) or variables (Vercel).
 */
import { Cachegate } from '@cachegate/client';

/** The bindings this function reads. */
export interface Env {
  CACHEGATE_URL: string;
  CACHEGATE_TOKEN: string;
  /** Requests per client per minute. @default "60" */
  RATE_LIMIT?: string;
}

// Bindings objects live as long as the isolate: one client per bindings object, reused across requests.
const clients = new WeakMap<Env, Cachegate>();

function clientFor(env: Env): Cachegate {
  let client = clients.get(env);
  if (client === undefined) {
    // Edge requests should fail fast rather than hold the response: a short timeout, one quick retry.
    client = Cachegate.fromEnv({ timeoutMs: 1500, retry: { retries: 1 } }, { ...env });
    clients.set(env, client);
  }
  return client;
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/** Fixed-window rate limit: INCR and EXPIRE in one transaction, so a new window always gets its expiry. */
async function isRateLimited(cache: Cachegate, clientId: string, limit: number): Promise<boolean> {
  const window = Math.floor(Date.now() / 60_000);
  const [count] = await cache
    .multi()
    .incr(`ratelimit:${clientId}:${window}`)
    .expire(`ratelimit:${clientId}:${window}`, 60)
    .exec();
  return count > limit;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const cache = clientFor(env);
    const url = new URL(request.url);
    const clientId =
      request.headers.get('cf-connecting-ip') ?? request.headers.get('x-forwarded-for') ?? 'anonymous';
    try {
      if (await isRateLimited(cache, clientId, Number(env.RATE_LIMIT ?? 60))) {
        return json({ error: 'Too many requests' }, 429, { 'retry-after': '60' });
      }
      const match = /^\/views\/([\w-]{1,64})$/.exec(url.pathname);
      if (request.method !== 'GET' || match === null) return json({ error: 'Try GET /views/<page>' }, 404);
      const page = match[1] as string;
      const views = await cache.incr(`views:${page}`);
      return json({ page, views });
    } catch (error) {
      // The cache is an optimisation here: say so instead of failing opaquely.
      return json({ error: 'Cache unavailable', code: (error as { code?: string }).code }, 503);
    }
  },
};
