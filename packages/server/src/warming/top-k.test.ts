import { describe, expect, it } from 'vitest';
import { mergeHotKeys, TopK } from './top-k.js';

/** A deterministic pseudo-random stream (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('TopK', () => {
  it('counts exactly while it holds every key, most read first, ties by key', () => {
    const sketch = new TopK(10);
    for (const [key, reads] of [
      ['b', 3],
      ['a', 5],
      ['c', 3],
      ['d', 1],
    ] as const)
      for (let i = 0; i < reads; i++) sketch.observe(key);
    expect(sketch.top()).toEqual([
      { key: 'a', reads: 5 },
      { key: 'b', reads: 3 },
      { key: 'c', reads: 3 },
      { key: 'd', reads: 1 },
    ]);
    expect(sketch.top(2).map((k) => k.key)).toEqual(['a', 'b']);
  });

  it('keeps the heavy hitters of a long stream of many more keys than it holds, in fixed size', () => {
    const sketch = new TopK(50);
    const next = random(7);
    const truth = new Map<string, number>();
    for (let i = 0; i < 200_000; i++) {
      // One read in four is one of 10 hot keys, the rest spread over 100,000 cold ones.
      const key = next() < 0.25 ? `hot:${Math.floor(next() * 10)}` : `cold:${Math.floor(next() * 100_000)}`;
      truth.set(key, (truth.get(key) ?? 0) + 1);
      sketch.observe(key);
    }
    expect(sketch.size).toBe(50);
    const top = sketch.top(10);
    expect(top.map((k) => k.key).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `hot:${i}`).sort());
    // Space-Saving never under-counts, and over-counts by at most N / capacity.
    for (const { key, reads } of top) {
      expect(reads).toBeGreaterThanOrEqual(truth.get(key) as number);
      expect(reads - (truth.get(key) as number)).toBeLessThanOrEqual(200_000 / 50);
    }
  });

  it('ages: reads counted before age() weigh half, so a newly hot key overtakes an old one', () => {
    const sketch = new TopK(10);
    for (let i = 0; i < 100; i++) sketch.observe('old');
    sketch.age();
    for (let i = 0; i < 60; i++) sketch.observe('new');
    expect(sketch.top()).toEqual([
      { key: 'new', reads: 60 },
      { key: 'old', reads: 50 },
    ]);
    // Many halvings rescale the counters without changing the order.
    for (let i = 0; i < 45; i++) sketch.age();
    sketch.observe('newest');
    sketch.observe('newest');
    expect(sketch.top()[0]?.key).toBe('newest');
  });

  it('merges the lists of several processes by summing each key', () => {
    const merged = mergeHotKeys(
      [
        [
          { key: 'a', reads: 5 },
          { key: 'b', reads: 4 },
        ],
        [
          { key: 'b', reads: 4 },
          { key: 'c', reads: 1 },
        ],
      ],
      2,
    );
    expect(merged).toEqual([
      { key: 'b', reads: 8 },
      { key: 'a', reads: 5 },
    ]);
  });
});
