import { describe, expect, it } from 'vitest';
import { AnswerBudget } from '../answer-budget.js';
import {
  DroppedReply,
  ErrorReply,
  encodeCommand,
  ProtocolError,
  ReplyParser,
  type ReplyTarget,
} from './resp.js';
import type { Reply } from './types.js';

const BYTES: ReplyTarget = { form: 'bytes', reservation: undefined, isWanted: true };

/** Feeds `wire` to a parser in pieces of `size` bytes and returns every reply. */
function parse(
  wire: Buffer | string,
  size = Number.POSITIVE_INFINITY,
  maxDepth = 100,
  maxBytes = Number.POSITIVE_INFINITY,
): Reply[] {
  const replies: Reply[] = [];
  const parser = new ReplyParser(
    (reply) => replies.push(reply),
    maxDepth,
    () => BYTES,
    maxBytes,
  );
  const bytes = Buffer.from(wire);
  for (let i = 0; i < bytes.length; i += Math.min(size, bytes.length))
    parser.feed(bytes.subarray(i, i + size));
  return replies;
}

const WIRE =
  '+OK\r\n-ERR bad\r\n:42\r\n:-7\r\n$5\r\nhé\r\n\r\n$-1\r\n*-1\r\n*0\r\n*2\r\n*1\r\n:1\r\n$0\r\n\r\n';

describe('ReplyParser', () => {
  it('reads every RESP2 type', () => {
    const [ok, error, n, negative, bulk, nil, nilArray, empty, nested] = parse(WIRE);
    expect([ok, n, negative, nil, nilArray, empty]).toEqual(['OK', 42, -7, null, null, []]);
    expect(error).toEqual(new ErrorReply('ERR bad'));
    expect(bulk).toEqual(Buffer.from('hé\r\n'));
    expect(nested).toEqual([[1], Buffer.alloc(0)]);
  });

  it('gives the same replies however the bytes are split', () => {
    const whole = parse(WIRE);
    for (const size of [1, 2, 3, 7]) expect(parse(WIRE, size)).toEqual(whole);
  });

  it('turns a reply over maxBytes into an error, holds none of it, and stays in step', () => {
    const big = Buffer.alloc(100_000, 1);
    const array = Buffer.concat([
      Buffer.from('*3\r\n'),
      ...[1, 2, 3].map(() => Buffer.concat([Buffer.from(`$${big.length}\r\n`), big, Buffer.from('\r\n')])),
    ]);
    const wire = Buffer.concat([array, Buffer.from('$3\r\nabc\r\n'), array, Buffer.from(':7\r\n')]);
    for (const size of [Number.POSITIVE_INFINITY, 65_536, 1000, 7]) {
      const replies = parse(wire, size, 100, 250_000);
      expect(replies).toHaveLength(4);
      expect(replies[0]).toBeInstanceOf(ErrorReply);
      expect((replies[0] as ErrorReply).message).toContain('CACHEGATE_MAX_REPLY_BYTES');
      expect(replies[1]).toEqual(Buffer.from('abc'));
      expect(replies[2]).toBeInstanceOf(ErrorReply);
      expect(replies[3]).toBe(7);
    }
  });

  it('counts a reply once however its bytes are split: one just under maxBytes passes', () => {
    const value = Buffer.alloc(900, 2);
    const wire = Buffer.concat([Buffer.from('*2\r\n$900\r\n'), value, Buffer.from('\r\n:1\r\n')]);
    // The array's line and its own value and two items' overhead, then the bulk's line and bytes, then ':1'.
    const cost = 4 + 64 * 3 + 6 + 900 + 4;
    for (const size of [Number.POSITIVE_INFINITY, 100, 3, 1]) {
      expect(parse(wire, size, 100, cost)).toEqual([[value, 1]]);
      expect(parse(wire, size, 100, cost - 1)[0]).toBeInstanceOf(ErrorReply);
    }
  });

  it('counts 64 bytes per value, so that a reply of many tiny items is refused from its length alone', () => {
    const items = 10_000;
    const wire = Buffer.from(`*${items}\r\n${'$1\r\nx\r\n'.repeat(items)}:7\r\n`);
    // 70 KB on the wire, over 640 KB as objects.
    for (const size of [Number.POSITIVE_INFINITY, 1000]) {
      const [reply, next] = parse(wire, size, 100, 600_000);
      expect((reply as ErrorReply).message).toContain('counting 64 bytes per value');
      expect(next).toBe(7);
      expect(parse(wire, size, 100, 800_000)[0]).toHaveLength(items);
    }
  });

  it('charges replies to their reservation, drops what does not fit unbuilt, and refunds it', () => {
    const budget = new AnswerBudget(1_000_000, 200_000);
    const reservation = budget.open();
    const target: ReplyTarget = { form: 'bytes', reservation, isWanted: true };
    const replies: Reply[] = [];
    const parser = new ReplyParser(
      (reply) => replies.push(reply),
      10,
      () => target,
      1_000_000,
    );
    const value = Buffer.alloc(150_000, 3);
    const bulk = Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n')]);
    parser.feed(bulk);
    expect(reservation.bytes).toBe(150_000 + 9 + 64);
    parser.feed(bulk);
    expect(replies[1]).toBeInstanceOf(DroppedReply);
    expect((replies[1] as DroppedReply).reason).toBe('answer');
    expect(reservation.bytes).toBe(150_000 + 9 + 64);
    expect(budget.held).toBe(reservation.bytes);
    reservation.release();
    expect(budget.held).toBe(0);
    // Released: whatever still arrives for it is read and dropped, and nothing is held.
    parser.feed(bulk);
    expect(replies[2]).toBeNull();
    expect(budget.held).toBe(0);
  });

  it('reads replies nobody waits for any more without building them', () => {
    const replies: Reply[] = [];
    const parser = new ReplyParser(
      (reply) => replies.push(reply),
      10,
      () => ({ ...BYTES, isWanted: false }),
    );
    parser.feed(Buffer.from('*2\r\n$3\r\nabc\r\n:1\r\n+OK\r\n'));
    expect(replies).toEqual([null, null]);
  });

  it('reads a large bulk string arriving in many chunks byte for byte', () => {
    const value = Buffer.alloc(200_000, 7);
    value[199_999] = 13;
    const wire = Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n:1\r\n')]);
    expect(parse(wire, 65_536)).toEqual([value, 1]);
    expect(parse(wire, 1000)).toEqual([value, 1]);
  });

  it('reads bulk strings as text when asked, small and large alike', () => {
    const large = 'é'.repeat(20_000);
    const wire = `$3\r\nabc\r\n*1\r\n$${Buffer.byteLength(large)}\r\n${large}\r\n`;
    const replies: Reply[] = [];
    const parser = new ReplyParser(
      (reply) => replies.push(reply),
      10,
      () => ({ ...BYTES, form: 'text' }),
    );
    const bytes = Buffer.from(wire);
    for (let i = 0; i < bytes.length; i += 4096) parser.feed(bytes.subarray(i, i + 4096));
    expect(replies).toEqual(['abc', [large]]);
  });

  it('keeps integers past 2^53 exact', () => {
    expect(parse(':9223372036854775807\r\n:-9223372036854775808\r\n:123456789012345\r\n')).toEqual([
      9223372036854775807n,
      -9223372036854775808n,
      123456789012345,
    ]);
  });

  it('reads replies nested beyond the call stack without recursion, and stays in step', () => {
    const depth = 100_000;
    const wire = `${'*1\r\n'.repeat(depth)}:1\r\n+NEXT\r\n`;
    const [deep, next] = parse(wire, 4096, 512);
    expect(deep).toBeInstanceOf(ErrorReply);
    expect((deep as ErrorReply).message).toContain('nested more than 512 levels');
    expect(next).toBe('NEXT');
  });

  it('delivers replies up to the depth limit as they are', () => {
    const [reply] = parse(`${'*1\r\n'.repeat(3)}:1\r\n`, Number.POSITIVE_INFINITY, 3);
    expect(reply).toEqual([[[1]]]);
  });

  it('throws ProtocolError on bytes that are not RESP2', () => {
    expect(() => parse('?what\r\n')).toThrow(ProtocolError);
    expect(() => parse(':12x\r\n')).toThrow(ProtocolError);
    expect(() => parse('+OK\rX')).toThrow(ProtocolError);
  });
});

describe('encodeCommand', () => {
  it('writes a RESP2 array of bulk strings, counting UTF-8 bytes', () => {
    expect(encodeCommand(['SET', 'ké', 'v'])).toBe('*3\r\n$3\r\nSET\r\n$3\r\nké\r\n$1\r\nv\r\n');
  });

  it('keeps binary arguments byte for byte', () => {
    const encoded = encodeCommand(['SET', 'k', Buffer.from([0, 255, 13, 10])]);
    expect(encoded).toEqual(
      Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\n\u0000\u00ff\r\n\r\n', 'latin1'),
    );
  });
});
