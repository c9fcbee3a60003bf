import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeHttpOracle, type OracleOutcome, startNodeHttpOracle } from '../helpers/node-http-oracle.js';
import { type ParseOutcome, parseRequests } from '../helpers/parse-requests.js';
import { HOSTILE, TRICK_BYTES, TRICK_HEADERS, WELL_FORMED } from './http-smuggling-corpus.js';

// Issue 24: the gateway's HTTP/1.1 parser against node:http (llhttp) as the oracle. The same bytes go to a
// real node:http server over a real socket and to the parser; every request the parser delivers must be
// one node delivered too, with the same method, target, headers and body. The parser may refuse what node
// accepts, never the reverse, and never read a request differently.
//
// CI runs a fixed seed. A longer hunt, with a new seed each time:
//   CACHEGATE_TEST_HTTP_FUZZ_RUNS=50000 CACHEGATE_TEST_HTTP_FUZZ_SEED=random \
//     npx vitest run packages/server/test/hostile/http-parser-differential.test.ts
// A failure prints its seed and path; set CACHEGATE_TEST_HTTP_FUZZ_SEED to that seed to replay it.

const RUNS = Number(process.env.CACHEGATE_TEST_HTTP_FUZZ_RUNS ?? 5000);
const SEED_SETTING = process.env.CACHEGATE_TEST_HTTP_FUZZ_SEED ?? '2024';
const SEED = SEED_SETTING === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(SEED_SETTING);

let oracle: NodeHttpOracle;
beforeAll(async () => {
  oracle = await startNodeHttpOracle();
});
afterAll(async () => {
  await oracle?.close();
});

/** What the parser did that node:http did not, described; undefined when it agreed or refused. */
function divergence(ours: ParseOutcome, node: OracleOutcome): string | undefined {
  for (const [k, mine] of ours.requests.entries()) {
    const theirs = node.requests[k];
    const what = `request ${k} (${mine.method} ${JSON.stringify(mine.target)})`;
    if (theirs === undefined) return `${what}: delivered by ours, not by node (${node.clientError})`;
    if (mine.method !== theirs.method || mine.target !== theirs.url) {
      return `${what}: node read ${theirs.method} ${JSON.stringify(theirs.url)}`;
    }
    const theirHeaders = theirs.rawHeaders.map((item, i) => (i % 2 === 0 ? item.toLowerCase() : item));
    if (JSON.stringify(mine.headers) !== JSON.stringify(theirHeaders)) {
      return `${what}: headers ${JSON.stringify(mine.headers)}, node ${JSON.stringify(theirHeaders)}`;
    }
    if (mine.isComplete && !theirs.isComplete) return `${what}: complete for ours, not for node`;
    if (mine.isComplete && mine.body !== theirs.body) {
      return `${what}: body ${JSON.stringify(mine.body)}, node ${JSON.stringify(theirs.body)}`;
    }
  }
  return undefined;
}

/** Sends `text` to both; fails on a divergence, or when cutting the input changes the parser's verdict. */
async function compare(
  text: string,
  cuts: number[] = [],
): Promise<{ ours: ParseOutcome; node: OracleOutcome }> {
  const bytes = Buffer.from(text, 'latin1');
  const node = await oracle.send(bytes);
  const ours = parseRequests(bytes, { atEnd: true });
  const problem = divergence(ours, node);
  if (problem !== undefined) throw new Error(`${problem}\n  input: ${JSON.stringify(text)}`);
  if (cuts.length > 0)
    expect(parseRequests(bytes, { cuts, atEnd: true }), JSON.stringify(text)).toEqual(ours);
  return { ours, node };
}

describe('HTTP parser against node:http', () => {
  it.each(WELL_FORMED.map((text) => [JSON.stringify(text).slice(0, 70), text]))(
    'parses well-formed requests exactly as node does: %s',
    async (_, text) => {
      const { ours, node } = await compare(text);
      expect(ours.refusal).toBeUndefined();
      expect(ours.requests.length).toBeGreaterThan(0);
      expect(ours.requests.every((r) => r.isComplete)).toBe(true);
      expect(ours.requests).toHaveLength(node.requests.length);
    },
  );

  it('flags a parser that accepts what node refuses, or reads a request differently', async () => {
    // The comparison itself must be able to fail: a lenient reading of a list Content-Length, and a body
    // read one byte short, are both caught.
    const lenient = 'POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 1,1\r\n\r\na';
    const node = await oracle.send(Buffer.from(lenient, 'latin1'));
    const accepted = parseRequests('POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\n\r\na');
    expect(divergence(accepted, node)).toMatch(/not by node/);
    const whole = 'POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\r\nab';
    const short = parseRequests(whole);
    const request = short.requests[0];
    if (request !== undefined) request.body = 'a';
    expect(divergence(short, await oracle.send(Buffer.from(whole, 'latin1')))).toMatch(/body/);
  });

  it('refuses or parses as node does every hostile request of the corpus', async () => {
    let refused = 0;
    for (const text of HOSTILE) {
      const { ours } = await compare(text, [Math.floor(text.length / 3), Math.floor(text.length / 2)]);
      if (ours.refusal !== undefined) refused++;
    }
    // Not vacuous: most of the corpus is refused (the rest is what node and the parser both accept).
    expect(refused).toBeGreaterThan(HOSTILE.length * 0.8);
  });

  it(`refuses or parses as node does random and mutated requests (seed ${SEED}, ${RUNS} runs)`, async () => {
    const counts = { agreed: 0, refusedByBoth: 0, refusedByOursOnly: 0 };
    await fc.assert(
      fc.asyncProperty(fuzzInput, fc.array(fc.nat(), { maxLength: 4 }), async (text, cutSeeds) => {
        const cuts = [...new Set(cutSeeds.map((seed) => seed % (text.length + 1)))].sort((a, b) => a - b);
        const { ours, node } = await compare(text, cuts);
        const nodeAccepted = node.requests.some((r) => r.isComplete);
        if (ours.requests.some((r) => r.isComplete)) counts.agreed++;
        else if (nodeAccepted) counts.refusedByOursOnly++;
        else counts.refusedByBoth++;
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    console.log(`HTTP parser differential, seed ${SEED}:`, JSON.stringify(counts));
    // Not vacuous: a good share of the inputs are requests both accept (and compare) whole.
    expect(counts.agreed).toBeGreaterThan(RUNS * 0.15);
  }, 120_000);
});

// Inputs: corpus requests and requests built from parts, one or two pipelined, then mutated.

const pick = <T>(items: readonly T[]) => fc.constantFrom(...items);
const eol = fc.oneof({ arbitrary: fc.constant('\r\n'), weight: 8 }, pick(['\n', '\r', '\r\r\n']));
const headerName = fc.oneof(
  pick(['Host', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Expect', 'Upgrade', 'X-A', 'x-a']),
  fc.string({ unit: pick([...'abcXYZ-_!#$%&*+.^`|~', ...TRICK_BYTES]), minLength: 1, maxLength: 8 }),
);
const headerValue = fc.oneof(
  pick(['gw', '0', '5', '05', 'chunked', 'close', 'keep-alive', 'upgrade', '100-continue', '1,1', ' x ', '']),
  fc.string({ unit: pick([...'abc019 \t', ...TRICK_BYTES]), maxLength: 10 }),
);
const header = fc
  .tuple(headerName, pick([': ', ':', ' : ', ':\t', ': \t']), headerValue, eol)
  .map((parts) => parts.join(''));
const target = fc.oneof(
  pick(['/', '/get/k', '*', 'http://gw/x', 'https://gw:1/?q', '/a?b=c', 'gw:443', 'x']),
  fc.string({ unit: pick([...'/abc?=&%:@.-_~*', ...TRICK_BYTES]), maxLength: 12 }).map((s) => `/${s}`),
);
const chunkedBody = fc
  .tuple(
    fc.array(fc.string({ unit: pick([...'ab\r\n0']), minLength: 1, maxLength: 6 }), { maxLength: 3 }),
    pick(['', ';x', ';x=y', ';', ' ']),
    pick(['', 'T: 1\r\n']),
  )
  .map(
    ([chunks, extension, trailer]) =>
      `${chunks.map((data) => `${data.length.toString(16)}${extension}\r\n${data}\r\n`).join('')}0\r\n${trailer}\r\n`,
  );
const built = fc
  .record({
    method: pick(['GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'get', 'PURGE']),
    target,
    version: pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/1.2']),
    hasHost: fc.oneof({ arbitrary: fc.constant(true), weight: 6 }, fc.constant(false)),
    headers: fc.array(header, { maxLength: 4 }),
    framing: pick(['none', 'length', 'chunked', 'length-wrong']),
    body: fc.string({ unit: pick([...'ab{}"[],\r\n']), maxLength: 12 }),
    chunked: chunkedBody,
    lineEnd: eol,
  })
  .map((r) => {
    const host = r.hasHost ? 'Host: gw\r\n' : '';
    const framing =
      r.framing === 'length'
        ? `Content-Length: ${r.body.length}\r\n`
        : r.framing === 'length-wrong'
          ? `Content-Length: ${r.body.length + 1}\r\n`
          : r.framing === 'chunked'
            ? 'Transfer-Encoding: chunked\r\n'
            : '';
    const body = r.framing === 'chunked' ? r.chunked : r.framing === 'none' ? '' : r.body;
    return `${r.method} ${r.target} ${r.version}${r.lineEnd}${host}${r.headers.join('')}${framing}\r\n${body}`;
  });
const request = fc.oneof(pick(WELL_FORMED), pick(HOSTILE), built);

type Mutation = (text: string) => string;
const at = (text: string, position: number) => position % (text.length + 1);
const lineStarts = (text: string) => [0, ...[...text.matchAll(/\n/g)].map((m) => (m.index ?? 0) + 1)];
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), pick(TRICK_BYTES)).map(([p, bytes]) => (t: string) => {
    const i = at(t, p);
    return t.slice(0, i) + bytes + t.slice(i);
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 3 })).map(([p, n]) => (t: string) => {
    const i = at(t, p);
    return t.slice(0, i) + t.slice(i + n);
  }),
  fc.tuple(fc.nat(), pick(TRICK_BYTES)).map(([p, bytes]) => (t: string) => {
    const i = at(t, p);
    return t.slice(0, i) + bytes + t.slice(i + bytes.length);
  }),
  fc.tuple(fc.nat(), pick(TRICK_HEADERS)).map(([p, line]) => (t: string) => {
    const starts = lineStarts(t);
    const i = starts[p % starts.length] ?? 0;
    return t.slice(0, i) + line + t.slice(i);
  }),
  fc.nat().map((p) => (t: string) => {
    const starts = lineStarts(t);
    const i = starts[p % starts.length] ?? 0;
    const end = t.indexOf('\n', i);
    return end === -1 ? t : t.slice(0, end + 1) + t.slice(i, end + 1) + t.slice(end + 1);
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 12 })).map(([p, n]) => (t: string) => {
    const i = at(t, p);
    // ASCII letters only: other characters may change into ones latin1 cannot hold.
    const flip = (c: string) =>
      c >= 'a' && c <= 'z' ? c.toUpperCase() : c >= 'A' && c <= 'Z' ? c.toLowerCase() : c;
    return t.slice(0, i) + [...t.slice(i, i + n)].map(flip).join('') + t.slice(i + n);
  }),
);
const fuzzInput = fc
  .tuple(
    fc.array(request, { minLength: 1, maxLength: 2 }),
    // A third unmutated, so that many inputs are requests both parsers accept and compare whole.
    fc.oneof(
      fc.constant([]),
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
    ),
  )
  .map(([requests, mutations]) => mutations.reduce((text, mutate) => mutate(text), requests.join('')));
