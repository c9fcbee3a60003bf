import type { Readable } from 'node:stream';
import { encodeValue } from '@cachegate/client';
import { checkJsonText } from '../../routes/json-body.js';
import type { Item, Rejected, Source, SourceBatch } from './items.js';

/** Options of {@link ndjsonSource}. */
export interface NdjsonSourceOptions {
  /** The input: a file's stream or stdin. */
  input: Readable;
  /** The input's size in bytes when known (a file), for progress. */
  totalBytes?: number | undefined;
  /** The first line to read (1-based); earlier lines are skipped unread. @default 1 */
  resumeFrom?: number;
  /** Longer lines are rejected without being held. @default 16 MiB */
  maxLineBytes?: number;
}

const FIELDS = ['key', 'value', 'ttl'];
/** A batch also ends past this much input, so that one request stays well under the gateway's body limit. */
const MAX_BATCH_BYTES = 2 * 1024 * 1024;
/** Deepest nesting accepted in a value: the gateway's default CACHEGATE_MAX_JSON_DEPTH. */
const MAX_DEPTH = 512;
const NEWLINE = 0x0a;

/**
 * NDJSON entries in the cache API's shape, one per line: `{"key": "...", "value": <any JSON>, "ttl"?:
 * seconds}`, read as a stream (memory holds one batch, never the input). `ttl` may be null (no expiry, as
 * `GET /v1/cache/:key` and `cachegate hot-keys` write it). Values are stored as the cache API and the SDK
 * store them (`encodeValue`), and numbers JSON cannot carry exactly are refused as the cache API refuses them.
 * Blank lines are skipped; positions are line numbers.
 */
export function ndjsonSource(options: NdjsonSourceOptions): Source {
  const first = options.resumeFrom ?? 1;
  const maxLine = options.maxLineBytes ?? 16 * 1024 * 1024;
  let bytesRead = 0;
  return {
    fraction: () => (options.totalBytes ? Math.min(1, bytesRead / options.totalBytes) : undefined),
    close: async () => {
      options.input.destroy();
    },
    async *batches(size: number): AsyncGenerator<SourceBatch> {
      let lineNumber = 0;
      let items: Item[] = [];
      let rejected: Rejected[] = [];
      let batchStart = first;
      let units = 0;
      let batchBytes = 0;
      const cut = (next: number): SourceBatch => {
        const done = { items, rejected };
        const batch: SourceBatch = {
          read: async () => done,
          resumeFrom: String(batchStart),
          next: String(next),
          size: units,
        };
        items = [];
        rejected = [];
        units = 0;
        batchBytes = 0;
        batchStart = next;
        return batch;
      };
      const take = (line: Buffer | undefined, number: number) => {
        if (number < first) return;
        if (line === undefined) {
          units++;
          rejected.push({ where: `line ${number}`, reason: `the line is longer than ${maxLine} bytes` });
          return;
        }
        const text = line.toString('utf8');
        if (text.trim() === '') return;
        units++;
        batchBytes += line.length;
        const parsed = parseEntry(text, `line ${number}`);
        if ('reason' in parsed) rejected.push(parsed);
        else items.push(parsed);
      };
      let parts: Buffer[] = [];
      let partBytes = 0;
      let tooLong = false;
      for await (const chunk of options.input as AsyncIterable<Buffer | string>) {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        bytesRead += buffer.length;
        let start = 0;
        for (;;) {
          const end = buffer.indexOf(NEWLINE, start);
          if (end === -1) break;
          lineNumber++;
          const piece = buffer.subarray(start, end);
          const line =
            tooLong || partBytes + piece.length > maxLine ? undefined : join(parts, partBytes, piece);
          parts = [];
          partBytes = 0;
          tooLong = false;
          take(line, lineNumber);
          start = end + 1;
          if (units >= size || batchBytes >= MAX_BATCH_BYTES) yield cut(lineNumber + 1);
        }
        if (start < buffer.length && !tooLong) {
          const rest = buffer.subarray(start);
          if (partBytes + rest.length > maxLine) {
            tooLong = true;
            parts = [];
            partBytes = 0;
          } else {
            // A copy: the chunk itself must not be held past this read.
            parts.push(Buffer.from(rest));
            partBytes += rest.length;
          }
        }
      }
      if (partBytes > 0 || tooLong) {
        lineNumber++;
        take(tooLong ? undefined : join(parts, partBytes, Buffer.alloc(0)), lineNumber);
      }
      if (units > 0 || items.length > 0 || rejected.length > 0) yield cut(lineNumber + 1);
      else batchStart = lineNumber + 1;
    },
  };
}

/**
 * Whether a line could hold what {@link checkJsonText} refuses: a number with more than 15 significant
 * digits (so 16 digits or more, maybe around a point) or an exponent, or nesting past {@link MAX_DEPTH}
 * (which takes more than twice that many characters). Anything else is exact in a double and shallow enough,
 * so the full check, a walk over every character, is skipped; strings that look like numbers only cost it.
 */
function mayNeedChecking(text: string): boolean {
  return text.length > 2 * MAX_DEPTH || MAYBE_INEXACT.test(text);
}

const MAYBE_INEXACT = /[\d.]{16}|\d[eE]/;

function join(parts: Buffer[], bytes: number, last: Buffer): Buffer {
  if (parts.length === 0) return last;
  return Buffer.concat([...parts, last], bytes + last.length);
}

/** One line checked as the cache API checks a PUT body, with `ttl: null` allowed. */
export function parseEntry(text: string, where: string): Item | Rejected {
  const reject = (reason: string): Rejected => ({ where, reason });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return reject(`not JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return reject('must be a JSON object {"key", "value", "ttl"?}');
  }
  const fields = parsed as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!FIELDS.includes(name)) return reject(`unknown field "${name}"; allowed: ${FIELDS.join(', ')}`);
  }
  const { key, value, ttl } = fields;
  if (typeof key !== 'string' || key === '') return reject('"key" must be a non-empty string');
  if (!('value' in fields)) return reject('needs "value"');
  if (ttl !== undefined && ttl !== null && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1)) {
    return reject('"ttl" must be a whole number of seconds, at least 1, or null');
  }
  if (mayNeedChecking(text)) {
    try {
      checkJsonText(text, MAX_DEPTH);
    } catch (error) {
      return reject((error as Error).message);
    }
  }
  return {
    kind: 'value',
    key,
    text: encodeValue(value),
    ttl: typeof ttl === 'number' ? ttl : undefined,
    where,
  };
}
