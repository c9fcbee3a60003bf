import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanJson } from './json-scan.js';

/** Values in a parsed document, each object, array and scalar counted once (keys are not values). */
function countValues(value: unknown): number {
  if (Array.isArray(value)) return 1 + value.reduce((sum: number, item) => sum + countValues(item), 0);
  if (value !== null && typeof value === 'object')
    return 1 + Object.values(value).reduce((sum: number, item) => sum + countValues(item), 0);
  return 1;
}

function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (value !== null && typeof value === 'object')
    return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

const isJson = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

describe('scanJson', () => {
  it('tells valid JSON as JSON.parse does, and counts its values and depth without building them', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 6 }), (text) => {
        const shape = scanJson(text);
        const value = JSON.parse(text);
        expect(shape).toEqual({
          values: countValues(value),
          depth: depthOf(value),
          hasObject: /\{/.test(JSON.stringify(value).replace(/"(?:[^"\\]|\\.)*"/g, '')),
        });
      }),
      { numRuns: 300, seed: 3 },
    );
  });

  it('refuses exactly what JSON.parse refuses, mutated documents and strings alike', () => {
    const mutated = fc
      .tuple(
        fc.json({ maxDepth: 3 }),
        fc.nat(),
        fc.constantFrom('', ',', ']', '}', '"', '\\', '\u0001', ' ', '0', '-', 'e', '.'),
      )
      .map(([text, at, insert]) => {
        const i = at % (text.length + 1);
        return text.slice(0, i) + insert + text.slice(i + (at % 2));
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string({ maxLength: 12 })), (text) => {
        expect(scanJson(text) !== undefined).toBe(isJson(text));
      }),
      { numRuns: 3000, seed: 4 },
    );
    for (const text of [
      '',
      ' ',
      '01',
      '1.',
      '.5',
      '-',
      '1e',
      '"\\x"',
      '"\\u12g4"',
      '[1,]',
      '{"a"}',
      '{"a":1,}',
      'nul',
      'true false',
    ])
      expect(scanJson(text), text).toBeUndefined();
    expect(scanJson(' [ {"a" : [1, -0.5e+3, "\\u00e9\\n", true, null]} ] ')).toEqual({
      values: 8,
      depth: 3,
      hasObject: true,
    });
  });
});
