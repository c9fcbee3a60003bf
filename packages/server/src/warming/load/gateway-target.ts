import type { DumpItem, Item, Outcome, Target, ValueItem } from './items.js';
import { FatalError } from './items.js';
import { RetryLater, withRetries } from './retries.js';

/** Options of {@link gatewayTarget}. */
export interface GatewayTargetOptions {
  /** The gateway's base URL. */
  url: string;
  token: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** Dumped keys restored at once within a batch (one request each). */
const RESTORES_AT_ONCE = 16;

/**
 * Writes through a gateway over HTTP, as a CI job or a function with only HTTP would (decision 0035):
 * entries as one `POST /pipeline` of `SET key <text> [EX ttl] [NX]` per batch (a write token), dumped keys
 * as `POST /restore/<key>/<ttl ms>` with the payload as the raw body, one request per key (RESTORE is
 * `@dangerous`: an admin token). A request refused as a whole: 401 and 403 stop the run; a batch over the
 * gateway's body or pipeline limit (413) is split in halves; 429 waits as told; 502-504 and lost connections
 * are sent again with backoff.
 */
export function gatewayTarget(options: GatewayTargetOptions): Target {
  const base = options.url.replace(/\/+$/, '');
  const send = options.fetch ?? globalThis.fetch;
  const headers = { authorization: `Bearer ${options.token}` };

  const post = async (
    path: string,
    body: string | Buffer,
    type: string,
  ): Promise<{ status: number; body: unknown }> => {
    let response: Response;
    try {
      response = await send(`${base}${path}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': type },
        body,
      });
    } catch (error) {
      throw new RetryLater(
        `the gateway could not be reached (${(error as Error).cause ?? (error as Error).message})`,
      );
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's page): kept as text for the message.
    }
    const { status } = response;
    const message = errorText(parsed) ?? `HTTP ${status}`;
    if (status === 401) throw new FatalError(`the gateway refused the token (401: ${message})`);
    if (status === 403) throw new FatalError(`the gateway denied the write (403: ${message})`);
    if (status === 429) throw new RetryLater(`rate limited (429: ${message})`, retryAfterMs(response), true);
    if (status >= 502 && status <= 504)
      throw new RetryLater(`the gateway answered ${status}: ${message}`, retryAfterMs(response));
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
    let answer: { status: number; body: unknown };
    try {
      answer = await withRetries(() => post('/pipeline', body, 'application/json'));
    } catch (error) {
      if (error instanceof FatalError) throw error;
      return items.map((): Outcome => ({ failed: (error as Error).message }));
    }
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
    close: async () => {},
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

function retryAfterMs(response: Response): number | undefined {
  const seconds = Number(response.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}
