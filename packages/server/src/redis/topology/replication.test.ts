import { describe, expect, it } from 'vitest';
import { OffsetHistory, parseRole } from './replication.js';

describe('parseRole', () => {
  it('reads a primary, a linked replica and an unlinked one', () => {
    expect(parseRole(['master', 3129, [['127.0.0.1', '9001', '3129']]])).toEqual({
      kind: 'primary',
      offset: 3129,
    });
    expect(parseRole(['slave', '127.0.0.1', 9000, 'connected', 3167])).toEqual({
      kind: 'replica',
      isLinkUp: true,
      offset: 3167,
    });
    // While the link is down Redis answers -1, or an offset from before: neither is to be trusted.
    expect(parseRole(['slave', '127.0.0.1', 9000, 'connect', 3167])).toEqual({
      kind: 'replica',
      isLinkUp: false,
      offset: -1,
    });
    expect(parseRole(['sentinel', ['mymaster']])).toBeUndefined();
    expect(parseRole(null)).toBeUndefined();
  });
});

describe('OffsetHistory', () => {
  it('measures how long a replica has missed the first offset past its own', () => {
    const history = new OffsetHistory();
    expect(history.lagMs(0, 1000)).toBe(0);
    history.record(100, 1000);
    history.record(200, 1100);
    history.record(200, 1150); // no new write: not a new sample
    history.record(300, 1200);
    expect(history.latest).toBe(300);
    expect(history.lagMs(300, 1500)).toBe(0);
    expect(history.lagMs(250, 1500)).toBe(300); // missing 300, seen at 1200
    expect(history.lagMs(150, 1500)).toBe(400); // missing 200, seen at 1100
    expect(history.lagMs(50, 1500)).toBe(500);
    history.reset();
    expect(history.latest).toBe(-1);
    expect(history.lagMs(50, 1500)).toBe(0);
  });

  it('forgets samples older than a minute but one', () => {
    const history = new OffsetHistory();
    history.record(100, 0);
    history.record(200, 10_000);
    history.record(300, 100_000);
    // 200 (older than the window) is kept as the oldest: lag is measured from it.
    expect(history.lagMs(0, 100_000)).toBe(90_000);
  });
});
