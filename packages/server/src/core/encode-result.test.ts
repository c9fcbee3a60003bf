import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorReply } from '../redis/resp.js';
import type { Reply } from '../redis/types.js';
import {
  pipelineItemJson,
  pipelineItemLength,
  pipelineItemPieces,
  resultJson,
  resultJsonBound,
  resultJsonLength,
  resultJsonPieces,
} from './encode-result.js';

const decoded = (text: string) => JSON.parse(text);

describe('resultJson', () => {
  const nested = [Buffer.from('a'), 1, null, [Buffer.from('é'), 'OK', [Buffer.from([0xff, 0x00])]]];

  it('reads bulk strings as UTF-8 and keeps integers, null and nesting', () => {
    expect(decoded(resultJson(nested, false))).toEqual(['a', 1, null, ['é', 'OK', ['\ufffd\u0000']]]);
  });

  it('base64-encodes every string at every depth, status replies included, and nothing else', () => {
    expect(decoded(resultJson(nested, true))).toEqual(['YQ==', 1, null, ['w6k=', 'T0s=', ['/wA=']]]);
    expect(decoded(resultJson('OK', true))).toBe('T0s=');
    expect(resultJson(0, true)).toBe('0');
  });

  it('keeps arbitrary bytes exact in base64', () => {
    const bytes = Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]);
    expect(Buffer.from(decoded(resultJson(bytes, true)), 'base64')).toEqual(bytes);
  });

  it('turns nested errors into their message, base64 like every string in base64 mode', () => {
    expect(decoded(resultJson([1, new ErrorReply('ERR nested')], false))).toEqual([1, 'ERR nested']);
    expect(decoded(resultJson([1, new ErrorReply('ERR nested')], true))).toEqual([1, 'RVJSIG5lc3RlZA==']);
  });

  it('writes integers past 2^53 with every digit', () => {
    expect(resultJson([BigInt('9223372036854775807'), -5], false)).toBe('[9223372036854775807,-5]');
  });

  it('escapes what JSON must escape', () => {
    const tricky = 'quote " backslash \\ newline \n nul \u0000 line-sep \u2028';
    expect(decoded(resultJson(Buffer.from(tricky), false))).toBe(tricky);
  });
});

describe('pipelineItemJson', () => {
  it('gives exactly one of result and error, and never encodes errors', () => {
    expect(decoded(pipelineItemJson(Buffer.from('v'), true))).toEqual({ result: 'dg==' });
    expect(decoded(pipelineItemJson(null, true))).toEqual({ result: null });
    expect(decoded(pipelineItemJson(new ErrorReply('WRONGTYPE bad'), true))).toEqual({
      error: 'WRONGTYPE bad',
    });
  });
});

describe('large answers, sized and written in pieces', () => {
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      '\u0000'.repeat(70_000),
      'é'.repeat(40_000),
      '😀'.repeat(33_000),
      `a${'"'.repeat(66_000)}`,
    ),
  );
  const leaf = fc.oneof(
    text,
    text.map((s) => Buffer.from(s)),
    fc.uint8Array({ maxLength: 200_000 }).map((bytes) => Buffer.from(bytes)),
    fc.integer(),
    fc.constant(null),
    text.map((s) => new ErrorReply(s)),
  );
  const reply = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 4 })),
  })).node as fc.Arbitrary<Reply>;

  it('pieces join into resultJson, whose bytes the length counts and the bound never undercounts', () => {
    fc.assert(
      fc.property(reply, fc.boolean(), (value, base64) => {
        const whole = resultJson(value, base64);
        expect([...resultJsonPieces(value, base64)].join('')).toBe(whole);
        expect(resultJsonLength(value, base64)).toBe(Buffer.byteLength(whole));
        expect(resultJsonBound(value, base64)).toBeGreaterThanOrEqual(Buffer.byteLength(whole));
        expect([...pipelineItemPieces(value, base64)].join('')).toBe(pipelineItemJson(value, base64));
        expect(pipelineItemLength(value, base64)).toBe(Buffer.byteLength(pipelineItemJson(value, base64)));
      }),
      { numRuns: 150, seed: 19 },
    );
  });
});
