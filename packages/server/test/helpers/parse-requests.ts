import type { Refusal } from '../../src/http/engine/refusals.js';
import type { BodyFraming } from '../../src/http/engine/request-head.js';
import { RequestParser, type RequestParserOptions } from '../../src/http/engine/request-parser.js';

/** One request as the parser delivered it, with its body joined (latin1, so any byte survives). */
export interface ParsedRequest {
  method: string;
  target: string;
  versionMinor: 0 | 1;
  headers: string[];
  framing: BodyFraming;
  keepAlive: boolean;
  expectsContinue: boolean;
  body: string;
  /** True once `onEnd` came. */
  isComplete: boolean;
}

export interface ParseOutcome {
  requests: ParsedRequest[];
  refusal: Refusal | undefined;
  /** The parser's `isIdle` after the last chunk. */
  isIdle: boolean;
}

/**
 * Feeds `input` to a new parser, cut at `cuts` (ascending offsets), and collects what it delivered. With
 * `atEnd`, the input's end is the connection's end (`finish()`).
 */
export function parseRequests(
  input: Buffer | string,
  {
    cuts = [],
    options = {},
    atEnd = false,
  }: { cuts?: number[]; options?: RequestParserOptions; atEnd?: boolean } = {},
): ParseOutcome {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const requests: ParsedRequest[] = [];
  let current: ParsedRequest | undefined;
  const parser = new RequestParser(
    {
      onHead(head) {
        current = {
          method: head.method,
          target: head.target,
          versionMinor: head.versionMinor,
          headers: head.headers,
          framing: head.framing,
          keepAlive: head.keepAlive,
          expectsContinue: head.expectsContinue,
          body: '',
          isComplete: false,
        };
        requests.push(current);
      },
      onBody(chunk) {
        if (current === undefined) throw new Error('body before head');
        current.body += chunk.toString('latin1');
      },
      onEnd() {
        if (current === undefined) throw new Error('end before head');
        current.isComplete = true;
        current = undefined;
      },
    },
    options,
  );
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    const piece = bytes.subarray(start, cut);
    const used = parser.execute(piece);
    if (used !== piece.length) throw new Error(`consumed ${used} of ${piece.length} bytes without a pause`);
    start = cut;
  }
  if (atEnd) parser.finish();
  return { requests, refusal: parser.refusal, isIdle: parser.isIdle };
}

/** Every offset from 1 to `length - 1`: `input` fed one byte at a time. */
export function everyByte(length: number): number[] {
  return Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1);
}
