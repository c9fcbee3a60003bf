import { withDeadline } from './abort.js';
import { type Command, commandName } from './commands.js';
import { decodeBase64Result } from './decode-result.js';
import {
  CachegateCommandError,
  CachegateError,
  CachegateHttpError,
  CachegateUnavailableError,
  clientClosed,
  type GatewayErrorCode,
  gatewayCode,
} from './errors.js';
import type { Outcome, SendOptions, Transport } from './transport.js';

/** Options of {@link HttpTransport}. */
export interface HttpTransportOptions {
  /** Base URL of the gateway (or of Upstash), without a trailing slash. Required, no default. */
  url: string;
  /** Bearer token. Required, no default. */
  token: string;
  /** The fetch implementation. @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
}

/**
 * Error codes (Node's and undici's) of failures that happen before a connection exists, so the request
 * provably never reached a server and any command may be re-sent. Browsers hide the cause: there every
 * network failure counts as "may have been sent".
 */
const NEVER_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Speaks the Upstash REST protocol: `POST /` for one command, `POST /pipeline` for a batch and
 * `POST /multi-exec` for a transaction, always asking for base64 results so any bytes survive. A send
 * stops when its signal fires; the deadline behind that signal is `withTimeout`'s.
 *
 * Read-your-writes: it sends back the `upstash-sync-token` of the latest answer, as `@upstash/redis` does,
 * so a gateway reading from replicas answers each read from one that has this client's writes. Of answers
 * that arrive out of order, only one to a request sent later than the last one taken replaces it.
 */
export class HttpTransport implements Transport {
  readonly url: string;
  readonly #token: string;
  readonly #fetch: typeof fetch;
  #closed = false;
  /** The sync token to send, and the number of the request whose answer gave it. */
  #syncToken = '';
  #syncTokenFrom = -1;
  #sent = 0;

  constructor(options: HttpTransportOptions) {
    this.url = options.url;
    this.#token = options.token;
    // Bound lazily so a fetch installed after construction (test doubles, polyfills) is honoured.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  async send(commands: Command[], options: SendOptions): Promise<Outcome[]> {
    const single = options.mode === 'pipeline' && commands.length === 1;
    const path = options.mode === 'transaction' ? '/multi-exec' : single ? '/' : '/pipeline';
    if (this.#closed) throw clientClosed();
    const { signal } = options;
    const request = this.#sent++;
    let response: Response;
    try {
      response = await this.#fetch(`${this.url}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.#token}`,
          'content-type': 'application/json',
          'upstash-encoding': 'base64',
          ...(this.#syncToken === '' ? {} : { 'upstash-sync-token': this.#syncToken }),
        },
        body: JSON.stringify(single ? commands[0] : commands),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      throw signal?.aborted ? signal.reason : this.#networkError(error);
    }
    // Reading the body is part of the request: a connection dropped mid-body is a network failure too.
    const text = await response.text().catch((error: unknown) => {
      throw signal?.aborted ? signal.reason : this.#networkError(error);
    });
    const { status, headers } = response;
    const syncToken = headers.get('upstash-sync-token');
    if (syncToken !== null && request > this.#syncTokenFrom) {
      this.#syncToken = syncToken;
      this.#syncTokenFrom = request;
    }
    const body = parseJson(text, status);
    if (status === 200) return single ? [toOutcome(body, commands[0] ?? [])] : toOutcomes(body, commands);
    const code = gatewayCode(headers.get('cachegate-error-code'));
    if (status === 400) {
      // A Redis error for `POST /`; for a transaction, Redis discarded it: every command failed.
      const error = new CachegateCommandError(
        single ? commandName(commands[0] ?? []) : 'MULTI',
        errorText(body),
        code ?? (options.mode === 'transaction' ? 'CG_ERR_TRANSACTION_ABORTED' : 'CG_ERR_REDIS_ERROR'),
      );
      return commands.map(() => ({ ok: false, error }));
    }
    throw statusError(status, code, errorText(body), headers, this.url);
  }

  /** Sends after this fail with `CG_ERR_CLIENT_CLOSED`; fetch owns the sockets, so nothing else to release. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  /**
   * Whether this client can use the service now, within `timeoutMs`: one `PING` sent the way commands are,
   * with the token, answered `PONG`. So the gateway is reachable and ready, its Redis answers and the token
   * is accepted; false on any other answer (401, 503, ...) or failure. Never throws. (The public `/health`
   * would say nothing of the token, and Upstash has none.)
   */
  async isHealthy(timeoutMs: number): Promise<boolean> {
    if (this.#closed) return false;
    try {
      return await withDeadline(timeoutMs, undefined, async (deadline) => {
        const response = await this.#fetch(`${this.url}/`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json' },
          body: '["PING"]',
          signal: deadline,
        });
        const text = await response.text();
        return response.status === 200 && (JSON.parse(text) as { result?: unknown }).result === 'PONG';
      });
    } catch {
      return false;
    }
  }

  #networkError(error: unknown): CachegateError {
    if (error instanceof CachegateError) return error;
    const code = networkCode(error);
    const detail = (error as { cause?: Error })?.cause?.message ?? (error as Error)?.message ?? String(error);
    return new CachegateUnavailableError(`Cannot reach the gateway at ${this.url}: ${detail}`, {
      sent: code === undefined || !NEVER_SENT.has(code),
      cause: error,
    });
  }
}

/** The error code buried in a fetch failure: `TypeError('fetch failed', { cause: { code } })`, maybe aggregated. */
function networkCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown; errors?: { code?: unknown }[] } })?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  const codes = new Set(cause?.errors?.map((inner) => inner.code));
  // A dual-stack connect that failed on every address: never sent only if every attempt was refused.
  return codes.size === 1 ? ([...codes][0] as string | undefined) : undefined;
}

function parseJson(text: string, status: number): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    if (status >= 500) return undefined;
    throw new CachegateHttpError(
      'CG_ERR_RESPONSE_INVALID',
      status,
      `Expected JSON, got: ${text.slice(0, 200)}`,
      { cause },
    );
  }
}

/** The message of an error body: Upstash's `{"error": "..."}` or the cache API's `{"error": {"message"}}`. */
function errorText(body: unknown): string {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : JSON.stringify(body ?? null);
}

function toOutcome(item: unknown, command: Command): Outcome {
  if (item !== null && typeof item === 'object' && 'result' in item) {
    return { ok: true, value: decodeBase64Result(item.result) };
  }
  if (item !== null && typeof item === 'object' && 'error' in item && typeof item.error === 'string') {
    return { ok: false, error: new CachegateCommandError(commandName(command), item.error) };
  }
  throw new CachegateHttpError(
    'CG_ERR_RESPONSE_INVALID',
    200,
    `Unexpected result item: ${JSON.stringify(item)}`,
  );
}

function toOutcomes(body: unknown, commands: Command[]): Outcome[] {
  if (!Array.isArray(body) || body.length !== commands.length) {
    throw new CachegateHttpError(
      'CG_ERR_RESPONSE_INVALID',
      200,
      `Expected ${commands.length} results, got: ${JSON.stringify(body)?.slice(0, 200)}`,
    );
  }
  return body.map((item, index) => toOutcome(item, commands[index] ?? []));
}

/** The gateway's code for an answer that names none (from Upstash, or a proxy in between). */
const STATUS_CODES: Record<number, GatewayErrorCode> = {
  401: 'CG_ERR_AUTH_INVALID',
  403: 'CG_ERR_COMMAND_DENIED',
  413: 'CG_ERR_BODY_TOO_LARGE',
  429: 'CG_ERR_RATE_LIMITED',
};

function statusError(
  status: number,
  code: GatewayErrorCode | undefined,
  message: string,
  headers: Headers,
  url: string,
): CachegateError {
  const retryAfterMs = parseRetryAfter(headers.get('retry-after'));
  if (status === 502 || status === 503 || status === 504) {
    return new CachegateUnavailableError(`The gateway at ${url} is unavailable (${status}): ${message}`, {
      // The gateway promises with this header that nothing reached Redis; proxies (502, 504) never do.
      sent: headers.get('cachegate-executed') !== 'no',
      status,
      ...(code === undefined ? {} : { code }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  return new CachegateHttpError(
    code ?? STATUS_CODES[status] ?? 'CG_ERR_HTTP_STATUS',
    status,
    `${status}: ${message}`,
    { retryAfterMs },
  );
}

/** `Retry-After` in seconds (the HTTP-date form is rare for APIs and treated as absent). */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}
