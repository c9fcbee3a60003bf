import type { Readable } from 'node:stream';
import { parseEntryLine } from '../../routes/cache/ndjson.js';
import type { Item, Rejected, Source, SourceBatch, ValueItem } from './items.js';

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
  /**
   * Batches carry their lines unparsed (one LinesItem each), for a destination that checks and parses them
   * itself; otherwise they are parsed here into entries. @default false
   */
  raw?: boolean;
}

/** A batch also ends past this much input, so that one request stays well under the gateway's body limit. */
const MAX_BATCH_BYTES = 2 * 1024 * 1024;
/** Deepest nesting accepted in a value: the gateway's default CACHEGATE_MAX_JSON_DEPTH. */
const MAX_DEPTH = 512;
const NEWLINE = 0x0a;

/**
 * NDJSON entries in the cache API's shape, one per line (see routes/cache/ndjson.ts), read as a stream: memory
 * holds the batches in flight, never the input. Positions are line numbers; blank lines are skipped.
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
      let lines: Buffer[] = [];
      let lineBytes = 0;
      let entries = 0;
      let tooLong: Rejected[] = [];
      let batchStart = first;
      let lineNumber = 0;
      const cut = (): SourceBatch => {
        const bytes = Buffer.allocUnsafe(lineBytes + lines.length);
        let at = 0;
        for (const line of lines) {
          at += line.copy(bytes, at);
          bytes[at++] = NEWLINE;
        }
        const firstLine = batchStart;
        const rejected = tooLong;
        const items = (): { items: Item[]; rejected: Rejected[] } => {
          if (options.raw)
            return { items: [{ kind: 'lines', bytes, firstLine, where: `line ${firstLine}` }], rejected };
          const parsed = parseLines(bytes, firstLine);
          return { items: parsed.items, rejected: [...rejected, ...parsed.rejected] };
        };
        const batch: SourceBatch = {
          read: async () => items(),
          resumeFrom: String(firstLine),
          next: String(lineNumber + 1),
          size: entries,
        };
        lines = [];
        lineBytes = 0;
        entries = 0;
        tooLong = [];
        batchStart = lineNumber + 1;
        return batch;
      };
      const take = (line: Buffer | undefined) => {
        lineNumber++;
        if (lineNumber < first) {
          batchStart = lineNumber + 1;
          return;
        }
        if (line === undefined) {
          tooLong.push({ where: `line ${lineNumber}`, reason: `the line is longer than ${maxLine} bytes` });
          entries++;
        } else if (!isBlank(line)) entries++;
        lines.push(line ?? EMPTY);
        lineBytes += line?.length ?? 0;
      };
      let parts: Buffer[] = [];
      let partBytes = 0;
      let isTooLong = false;
      for await (const chunk of options.input as AsyncIterable<Buffer | string>) {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        bytesRead += buffer.length;
        let start = 0;
        for (;;) {
          const end = buffer.indexOf(NEWLINE, start);
          if (end === -1) break;
          const piece = buffer.subarray(start, end);
          const line =
            isTooLong || partBytes + piece.length > maxLine
              ? undefined
              : parts.length === 0
                ? piece
                : Buffer.concat([...parts, piece], partBytes + piece.length);
          parts = [];
          partBytes = 0;
          isTooLong = false;
          take(line);
          start = end + 1;
          if (entries >= size || lineBytes >= MAX_BATCH_BYTES) yield cut();
        }
        if (start < buffer.length && !isTooLong) {
          const rest = buffer.subarray(start);
          if (partBytes + rest.length > maxLine) {
            isTooLong = true;
            parts = [];
            partBytes = 0;
          } else {
            parts.push(rest);
            partBytes += rest.length;
          }
        }
      }
      if (partBytes > 0 || isTooLong) take(isTooLong ? undefined : Buffer.concat(parts, partBytes));
      if (entries > 0) yield cut();
    },
  };
}

/**
 * Parses newline-ended lines numbered from `firstLine` into entries, and the lines that are not valid
 * entries (blank and empty lines give nothing; an empty line stands for one too long, rejected already).
 */
export function parseLines(bytes: Buffer, firstLine: number): { items: ValueItem[]; rejected: Rejected[] } {
  const items: ValueItem[] = [];
  const rejected: Rejected[] = [];
  let number = firstLine;
  for (let start = 0; start < bytes.length; number++) {
    const end = bytes.indexOf(NEWLINE, start);
    const stop = end === -1 ? bytes.length : end;
    const text = bytes.toString('utf8', start, stop);
    start = stop + 1;
    if (text.trim() === '') continue;
    const where = `line ${number}`;
    const parsed = parseEntryLine(text, MAX_DEPTH);
    if ('reason' in parsed) rejected.push({ where, reason: parsed.reason });
    else items.push({ kind: 'value', ...parsed, where });
  }
  return { items, rejected };
}

function isBlank(line: Buffer): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

const EMPTY = Buffer.alloc(0);
