import { describe, expect, it } from 'vitest';
import type { BatchResult } from '../../core/executor.js';
import { UNKNOWN_SEEN } from '../../redis/sync-point.js';
import { formatSyncToken, parseSyncToken, SyncToken } from './sync-token.js';

const result = (wrote: boolean, reached?: Map<string, number>): BatchResult => ({
  replies: [],
  wrote,
  reached,
});

describe('sync tokens with replication offsets', () => {
  it('round-trips a sync point, shards in order', () => {
    const token = formatSyncToken(
      new Map([
        ['5461', 900],
        ['0', 1200],
      ]),
    );
    expect(token).toBe('cg1.0-1200.5461-900');
    expect(parseSyncToken(token)).toEqual(
      new Map([
        ['0', 1200],
        ['5461', 900],
      ]),
    );
    expect(parseSyncToken('cg1')).toEqual(new Map());
  });

  it('reads anything else as unknown: the caller may have seen anything', () => {
    for (const token of [
      'x',
      'abc.3',
      'cg1.',
      'cg1.0',
      'cg1.0-',
      'cg1.a-1',
      'cg1.0-99999999999999999',
      'cg2.0-1',
    ])
      expect(parseSyncToken(token), token).toBe(UNKNOWN_SEEN);
  });

  it('answers a write with what it reached, a read with what it was sent', () => {
    const tokens = new SyncToken(true);
    expect(tokens.seen(undefined)).toBeUndefined();
    expect(tokens.seen('')).toBeUndefined();
    expect(tokens.answer('', result(false))).toBe('cg1');
    expect(tokens.answer('cg1.0-10', result(true, new Map([['0', 20]])))).toBe('cg1.0-20');
    expect(tokens.answer('cg1.0-10', result(false))).toBe('cg1.0-10');
    // A token of a gateway that reads from the primary only goes back as it came.
    expect(tokens.answer('Ab3.7', result(false))).toBe('Ab3.7');
  });

  it('ignores what clients send when reading from the primary only', () => {
    const tokens = new SyncToken(false);
    expect(tokens.seen('cg1.0-10')).toBeUndefined();
    const first = tokens.answer('cg1.0-10', result(false));
    expect(tokens.answer('', result(false))).toBe(first);
    expect(tokens.answer('', result(true))).not.toBe(first);
  });
});
