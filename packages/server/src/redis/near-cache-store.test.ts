import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { NearCacheStore } from './near-cache-store.js';

const value = (text: string) => Buffer.from(text);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('NearCacheStore', () => {
  it('stays within its budget with a million distinct keys, evicting the least recently used', () => {
    const maxBytes = 8 * 1024 * 1024;
    const store = new NearCacheStore(maxBytes);
    const stored = value('v'.repeat(100));
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1_000_000; i++) {
      const key = `key:${i}`;
      // One Buffer for every entry: what is measured is the bookkeeping per entry, not the values.
      store.store(`get\u0000${key.length}:${key}`, store.ticket([key]), stored, 116, Infinity);
      if (i === 10) store.lookup('get\u00005:key:0', 0); // key:0 used again: it outlives its neighbours
    }
    expect(store.bytes).toBeLessThanOrEqual(maxBytes);
    expect(store.stats.evictions).toBeGreaterThan(900_000);
    expect(store.lookup('get\u000010:key:999999', 0)).toEqual(value('v'.repeat(100)));
    expect(store.lookup('get\u00005:key:1', 0)).toBeUndefined();
    // The heap holds no more than the budget the accounting counts.
    gc();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(maxBytes);
  });

  it('refuses a fill whose key was invalidated while it was in flight, or flushed', () => {
    const store = new NearCacheStore(1 << 20);
    const spoiled = store.ticket(['k']);
    store.invalidate('k');
    store.store('get k', spoiled, value('old'), 3, Infinity);
    expect(store.lookup('get k', 0)).toBeUndefined();

    const flushed = store.ticket(['k']);
    store.clear();
    store.store('get k', flushed, value('old'), 3, Infinity);
    expect(store.lookup('get k', 0)).toBeUndefined();

    // A fill taken after the invalidation, once the spoiled one ended, is kept.
    store.store('get k', store.ticket(['k']), value('new'), 3, Infinity);
    expect(store.lookup('get k', 0)).toEqual(value('new'));
  });

  it('drops an entry at its expiry and every entry read from an invalidated key', () => {
    const store = new NearCacheStore(1 << 20);
    store.store('get a', store.ticket(['a']), value('1'), 1, 1_000);
    store.store('mget a b', store.ticket(['a', 'b']), [value('1'), value('2')], 2, Infinity);
    expect(store.lookup('get a', 999)).toEqual(value('1'));
    expect(store.lookup('get a', 1_000)).toBeUndefined();
    store.invalidate('b');
    expect(store.lookup('mget a b', 0)).toBeUndefined();
    expect(store.bytes).toBe(0);
  });
});
