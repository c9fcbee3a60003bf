import { encodeValue as sdkEncodeValue } from '@cachegate/client';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeValue } from './value.js';

/** The server's copy of the value format and the SDK's write the same bytes, so each reads the other's. */
describe('the cache API value format', () => {
  it('is byte for byte the SDK encodeValue, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(encodeValue(value)).toBe(sdkEncodeValue(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees on the edges: strings that look like numbers, -0, deep nesting, unicode', () => {
    for (const value of ['42', 42, -0, 1e21, null, { a: [{ b: '\u2028é😀' }] }, [[[[[]]]]], '']) {
      expect(encodeValue(value)).toBe(sdkEncodeValue(value));
    }
  });

  it('refuses, as the SDK does, a value with no JSON form', () => {
    for (const value of [undefined, () => 1, Symbol('s')]) {
      expect(() => encodeValue(value)).toThrow(TypeError);
      expect(() => sdkEncodeValue(value)).toThrow(TypeError);
    }
  });
});
