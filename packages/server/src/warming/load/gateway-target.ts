import http from 'node:http';
import https from 'node:https';
import type { DumpItem, Item, Outcome, Target, ValueItem } from './items.js';
import { FatalError } from './items.js';
import { RetryLater, withRetries } from './retries.js';

/** Options of {@link gatewayTarget}. */
export interface GatewayTargetOptions {
  /** The gateway's base URL. */
  url: string;
  token: string;
}

/** The longest wait for one answer; past it the request counts as lost and is sent again. */
const REQUEST_TIMEOUT_MS = 60_000;
/** Dumped keys restored at once within a batch (one request each). */
const RESTORES_AT_ONCE = 16;

/**
 * Writes through a gateway over HTTP, as a CI job or a function with only HTTP would (decision 0035):
 * entries as one `POST /pipeline` of `SET key <text> [EX ttl] [NX]` per batch (a write token), dumped keys
 * as `POST /restore/<key>/<ttl ms>` with the payload as the raw body, one request per key (RESTORE is
 * `@dangerous`: an admin token). A request refused as a whole: 401 and 403 stop the run; a batch over the
 * gateway's body or pipeline limit (413) is split in halves; 429 waits as told; 502-504 and lost connections
 * are sent again with backoff, and stop the run when they last (see withRetries).
 */
export function gatewayTarget(options: GatewayTargetOptions): Target {
  const base = new URL(options.url.replace(/\/+$/, ''));
  const prefix = base.pathname.replace(/\/+$/, '');
  const client = base.protocol === 'https:' ? https : http;
  // node:http rather than fetch: fetch's own HTTP parser alone holds some 40 MB of memory (decision 0035).
  const agent = new client.Agent({ keepAlive: true, maxSockets: 64 });
  const authorization = `Bearer ${options.token}`;

  const exchange = (path: string, body: string | Buffer, type: string) =>
    new Promise<{ status: number; text: string; retryAfter: string | undefined }>((resolve, reject) => {
      const request = client.request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          path: `${prefix}${path}`,
          method: 'POST',
          agent,
          timeout: REQUEST_TIMEOUT_MS,
          headers: { authorization, 'content-type': type, 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.once('error', reject);
          response.once('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              retryAfter: response.headers['retry-after'],
            }),
          );
        },
      );
      request.once('timeout', () =>
        request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)),
      );
      request.once('error', reject);
      request.end(body);
    });

  const post = async (
    path: string,
    body: string | Buffer,
    type: string,
  ): Promise<{ status: number; body: unknown }> => {
    let response: Awaited<ReturnType<typeof exchange>>;
    try {
      response = await exchange(path, body, type);
    } catch (error) {
      throw new RetryLater(`the gateway could not be reached (${(error as Error).message})`);
    }
    let parsed: unknown = response.text;
    try {
      parsed = JSON.parse(response.text);
    } catch {
      // Not JSON (a proxy's page): kept as text for the message.
    }
    const { status } = response;
    const message = errorText(parsed) ?? `HTTP ${status}`;
    const after = retryAfterMs(response.retryAfter);
    if (status === 401) throw new FatalError(`the gateway refused the token (401: ${message})`);
    if (status === 403) throw new FatalError(`the gateway denied the write (403: ${message})`);
    if (status === 429) throw new RetryLater(`rate limited (429: ${message})`, after, true);
    if (status >= 502 && status <= 504)
      throw new RetryLater(`the gateway answered ${status}: ${message}`, after);
    return { status, body: parsed };
  };

  const writeValues = async (items: ValueItem[], onlyMissing: boolean): Promise<Outcome[]> => {
    let body = '[';
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as ValueItem;
      if (i > 0) body += ',';
      body += `["SET",${JSON.stringify(item.key)},${JSON.stringify(item.text)}`;
      if (item.ttl !== undefined) body += `,"EX","${item.ttl}"`;
      body += onlyMissing ? ',"NX"]' : ']';
    }
    body += ']';
    const answer = await withRetries(() => post('/pipeline', body, 'application/json'));
    if (answer.status === 413 && items.length > 1) {
      const half = Math.ceil(items.length / 2);
      return [
        ...(await writeValues(items.slice(0, half), onlyMissing)),
        ...(await writeValues(items.slice(half), onlyMissing)),
      ];
    }
    const results = answer.body;
    if (answer.status !== 200 || !Array.isArray(results) || results.length !== items.length) {
      const reason = `the gateway answered ${answer.status}: ${errorText(results) ?? 'an unexpected body'}`;
      return items.map((): Outcome => ({ failed: reason }));
    }
    return results.map((result: { result?: unknown; error?: unknown }): Outcome => {
      if (result?.error !== undefined) return { failed: String(result.error) };
      return result?.result === null ? 'skipped' : 'loaded';
    });
  };

  const restore = async (item: DumpItem, onlyMissing: boolean): Promise<Outcome> => {
    const key = item.key.toString('utf8');
    if (!Buffer.from(key, 'utf8').equals(item.key)) {
      return {
        failed:
          'a key that is not UTF-8 text cannot be sent in a URL: warm into Redis directly (--redis-url)',
      };
    }
    const path = `/restore/${encodeURIComponent(key)}/${item.ttlMs}`;
    const once = () => withRetries(() => post(path, item.payload, 'application/octet-stream'));
    try {
      let answer = await once();
      if (answer.status === 400 && errorText(answer.body)?.startsWith('BUSYKEY')) {
        if (onlyMissing) return 'skipped';
        // The path form cannot put REPLACE before the payload: replace by deleting first.
        await withRetries(() => post('/', JSON.stringify(['DEL', key]), 'application/json'));
        answer = await once();
      }
      if (answer.status === 200) return 'loaded';
      return {
        failed: `the gateway answered ${answer.status}: ${errorText(answer.body) ?? 'an unexpected body'}`,
      };
    } catch (error) {
      if (error instanceof FatalError) throw error;
      return { failed: (error as Error).message };
    }
  };

  return {
    close: async () => {
      agent.destroy();
    },
    write: async (items: Item[], onlyMissing: boolean) => {
      if (items.every((item): item is ValueItem => item.kind === 'value'))
        return writeValues(items, onlyMissing);
      const outcomes: Outcome[] = [];
      for (let i = 0; i < items.length; i += RESTORES_AT_ONCE) {
        const chunk = items.slice(i, i + RESTORES_AT_ONCE) as DumpItem[];
        outcomes.push(...(await Promise.all(chunk.map((item) => restore(item, onlyMissing)))));
      }
      return outcomes;
    },
  };
}

/** The message of an error answer: Upstash routes send `{"error": "..."}`, the cache API `{"error": {"message"}}`. */
function errorText(body: unknown): string | undefined {
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | undefined)?.message;
  if (typeof message === 'string') return message;
  return typeof body === 'string' && body !== '' ? body.slice(0, 200) : undefined;
}

function retryAfterMs(header: string | undefined): number | undefined {
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}
