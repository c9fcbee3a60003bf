import http from 'node:http';
import https from 'node:https';
import type { DumpItem, Item, LinesItem, Outcome, Target, ValueItem } from './items.js';
import { FatalError } from './items.js';
import { keyText, whereOf } from './loader.js';
import { parseLines } from './ndjson-source.js';
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
 * NDJSON lines as they are, one `POST /v1/cache/import` per batch, which checks and stores them (a write
 * token; a gateway without that route, such as another Upstash-compatible server, gets the lines parsed here
 * and sent as `/pipeline`); entries as one `POST /pipeline` of `SET key <text> [EX ttl] [NX]`; dumped keys
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

  /** Set once the gateway turned out to have no import route (an older one, or another Upstash server). */
  let canImport = true;

  /** NDJSON lines through `POST /v1/cache/import`: the gateway checks, parses and stores them. */
  const importLines = async (item: LinesItem, onlyMissing: boolean): Promise<Outcome[]> => {
    if (!canImport) return parseThenWrite(item, onlyMissing);
    const path = `/v1/cache/import${onlyMissing ? '?onlyMissing=true' : ''}`;
    const answer = await withRetries(() => post(path, item.bytes, 'application/x-ndjson'));
    if (answer.status === 404 || answer.status === 405) {
      canImport = false;
      return parseThenWrite(item, onlyMissing);
    }
    if (answer.status === 413) {
      const halves = splitLines(item);
      if (halves !== undefined) {
        return [
          ...(await importLines(halves[0], onlyMissing)),
          ...(await importLines(halves[1], onlyMissing)),
        ];
      }
    }
    const result = answer.body as ImportResult;
    if (answer.status !== 200 || typeof result?.loaded !== 'number') {
      const reason = `the gateway answered ${answer.status}: ${errorText(answer.body) ?? 'an unexpected body'}`;
      return parseLines(item.bytes, item.firstLine).items.map(
        (entry): Outcome => ({ failed: reason, where: whereOf(entry) }),
      );
    }
    const lineOf = (line: number) => `line ${item.firstLine + line - 1}`;
    return [
      ...Array.from({ length: result.loaded }, (): Outcome => 'loaded'),
      ...Array.from({ length: result.skipped }, (): Outcome => 'skipped'),
      ...result.invalid.map(
        (problem): Outcome => ({ failed: problem.error, where: lineOf(problem.line), isInvalid: true }),
      ),
      ...result.failed.map(
        (problem): Outcome => ({
          failed: problem.error,
          where: `${lineOf(problem.line)} (key ${keyText(problem.key ?? '')})`,
        }),
      ),
    ];
  };

  /** Without the import route: the lines are parsed here and sent as a `/pipeline`. */
  const parseThenWrite = async (item: LinesItem, onlyMissing: boolean): Promise<Outcome[]> => {
    const { items, rejected } = parseLines(item.bytes, item.firstLine);
    const invalid = rejected.map(
      (problem): Outcome => ({ failed: problem.reason, where: problem.where, isInvalid: true }),
    );
    if (items.length === 0) return invalid;
    const outcomes = await writeValues(items, onlyMissing);
    return [
      ...invalid,
      ...outcomes.map((outcome, i) =>
        typeof outcome === 'string' ? outcome : { ...outcome, where: whereOf(items[i] as ValueItem) },
      ),
    ];
  };

  return {
    close: async () => {
      agent.destroy();
    },
    write: async (items: Item[], onlyMissing: boolean) => {
      if (items.length === 1 && items[0]?.kind === 'lines') return importLines(items[0], onlyMissing);
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

/** The answer of `POST /v1/cache/import`. */
interface ImportResult {
  loaded: number;
  skipped: number;
  invalid: { line: number; error: string }[];
  failed: { line: number; key?: string; error: string }[];
}

/** Two halves of a batch of lines, split at a line end near the middle; undefined for a single line. */
function splitLines(item: LinesItem): [LinesItem, LinesItem] | undefined {
  const { bytes } = item;
  let cut = bytes.indexOf(0x0a, Math.floor(bytes.length / 2));
  if (cut === -1 || cut === bytes.length - 1) cut = bytes.indexOf(0x0a);
  if (cut === -1 || cut === bytes.length - 1) return undefined;
  let lines = 0;
  for (let at = bytes.indexOf(0x0a); at !== -1 && at <= cut; at = bytes.indexOf(0x0a, at + 1)) lines++;
  const second = item.firstLine + lines;
  return [
    { ...item, bytes: bytes.subarray(0, cut + 1) },
    { kind: 'lines', bytes: bytes.subarray(cut + 1), firstLine: second, where: `line ${second}` },
  ];
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
