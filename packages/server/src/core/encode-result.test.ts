import { describe, expect, it } from 'vitest';
import { ErrorReply } from '../redis/resp.js';
import { pipelineItemJson, resultJson } from './encode-result.js';

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
