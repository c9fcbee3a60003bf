import { ErrorReply } from '@redis/client';
import { describe, expect, it } from 'vitest';
import { encodePipelineItem, encodeResult } from './encode-result.js';

describe('encodeResult', () => {
  const nested = [Buffer.from('a'), 1, null, [Buffer.from('é'), 'OK', [Buffer.from([0xff, 0x00])]]];

  it('reads bulk strings as UTF-8 and keeps integers, null and nesting', () => {
    expect(encodeResult(nested, false)).toEqual(['a', 1, null, ['é', 'OK', ['\ufffd\u0000']]]);
  });

  it('base64-encodes every string at every depth, status replies included, and nothing else', () => {
    expect(encodeResult(nested, true)).toEqual(['YQ==', 1, null, ['w6k=', 'T0s=', ['/wA=']]]);
    expect(encodeResult('OK', true)).toBe('T0s=');
    expect(encodeResult(0, true)).toBe(0);
  });

  it('keeps arbitrary bytes exact in base64', () => {
    const bytes = Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]);
    expect(Buffer.from(encodeResult(bytes, true) as string, 'base64')).toEqual(bytes);
  });

  it('turns nested errors into their message, base64 like every string in base64 mode', () => {
    expect(encodeResult([1, new ErrorReply('ERR nested')], false)).toEqual([1, 'ERR nested']);
    expect(encodeResult([1, new ErrorReply('ERR nested')], true)).toEqual([1, 'RVJSIG5lc3RlZA==']);
  });
});

describe('encodePipelineItem', () => {
  it('gives exactly one of result and error, and never encodes errors', () => {
    expect(encodePipelineItem(Buffer.from('v'), true)).toEqual({ result: 'dg==' });
    expect(encodePipelineItem(null, true)).toEqual({ result: null });
    expect(encodePipelineItem(new ErrorReply('WRONGTYPE bad'), true)).toEqual({ error: 'WRONGTYPE bad' });
  });
});
