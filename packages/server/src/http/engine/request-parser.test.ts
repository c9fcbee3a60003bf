import { describe, expect, it } from 'vitest';
import { everyByte, parseRequests } from '../../../test/helpers/parse-requests.js';
import { REFUSED } from './refusals.js';
import { BodyFraming } from './request-head.js';
import { RequestParser } from './request-parser.js';

const HOST = 'Host: gw\r\n';
const get = (target = '/', extra = '') => `GET ${target} HTTP/1.1\r\n${HOST}${extra}\r\n`;
const post = (body: string, extra = '') =>
  `POST / HTTP/1.1\r\n${HOST}Content-Length: ${body.length}\r\n${extra}\r\n${body}`;
const chunked = (chunks: string, extra = '') =>
  `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n${extra}\r\n${chunks}`;

describe('RequestParser: what it accepts', () => {
  it('reads an Upstash command request', () => {
    const body = '["GET","k"]';
    const { requests, refusal } = parseRequests(
      `POST / HTTP/1.1\r\nHost: gw:8080\r\nAuthorization: Bearer t0k\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(refusal).toBeUndefined();
    expect(requests).toEqual([
      {
        method: 'POST',
        target: '/',
        versionMinor: 1,
        headers: [
          'host',
          'gw:8080',
          'authorization',
          'Bearer t0k',
          'content-type',
          'application/json',
          'content-length',
          '11',
        ],
        framing: BodyFraming.Length,
        keepAlive: true,
        expectsContinue: false,
        body,
        isComplete: true,
      },
    ]);
  });

  it('reads pipelined requests in order, from one chunk', () => {
    const { requests } = parseRequests(post('abc') + get('/get/k') + chunked('2\r\nhi\r\n0\r\n\r\n'));
    expect(requests.map((r) => [r.method, r.target, r.body, r.isComplete])).toEqual([
      ['POST', '/', 'abc', true],
      ['GET', '/get/k', '', true],
      ['POST', '/', 'hi', true],
    ]);
  });

  it('lower-cases names, trims values, keeps repeats and reads obs-text as latin1', () => {
    const { requests } = parseRequests(
      get('/', 'X-Custom-Name: \t a  b \t\r\nAccept: x\r\nACCEPT: y\r\nX-Empty:\r\nX-Latin: caf\xe9\r\n'),
    );
    expect(requests[0]?.headers).toEqual([
      'host',
      'gw',
      'x-custom-name',
      'a  b',
      'accept',
      'x',
      'accept',
      'y',
      'x-empty',
      '',
      'x-latin',
      'café',
    ]);
  });

  it('knows the framing fields in any letter case, and only those names', () => {
    // Upper-case, mixed-case and look-alike names: only the real ones frame the body.
    const { requests } = parseRequests(
      'POST / HTTP/1.1\r\nHOST: gw\r\nhostx: 1\r\nContent-Lengths: 9\r\ncontent_length: 9\r\n' +
        'X-Content-Length: 9\r\nCoNtEnT-lEnGtH: 2\r\n\r\nokGET / HTTP/1.1\r\nHost: gw\r\n\r\n',
    );
    expect(requests.map((r) => [r.body, r.isComplete])).toEqual([
      ['ok', true],
      ['', true],
    ]);
    expect(requests[0]?.headers.filter((_, i) => i % 2 === 0)).toEqual([
      'host',
      'hostx',
      'content-lengths',
      'content_length',
      'x-content-length',
      'content-length',
    ]);
  });

  it('reads chunked bodies with extensions and trailers, and drops the trailers', () => {
    const { requests, refusal } = parseRequests(
      chunked('5;name=value;flag\r\nhello\r\n000A\r\n 01234567 \r\n0;last\r\nX-Checksum: 1\r\n\r\n'),
    );
    expect(refusal).toBeUndefined();
    expect(requests[0]).toMatchObject({
      framing: BodyFraming.Chunked,
      body: 'hello 01234567 ',
      isComplete: true,
    });
    expect(requests[0]?.headers).not.toContain('x-checksum');
  });

  it('accepts absolute-form targets, OPTIONS *, and empty lines before a request', () => {
    const { requests, refusal } = parseRequests(
      `${get('http://gw:8080/get/k?x=1')}\r\n\r\n${get('HTTPS://gw')}OPTIONS * HTTP/1.1\r\n${HOST}\r\n`,
    );
    expect(refusal).toBeUndefined();
    expect(requests.map((r) => r.target)).toEqual(['http://gw:8080/get/k?x=1', 'HTTPS://gw', '*']);
  });

  it('keeps the connection for HTTP/1.1 unless told to close, and for HTTP/1.0 only when told to', () => {
    const keepAlive = (request: string) => parseRequests(request).requests[0]?.keepAlive;
    expect(keepAlive(get())).toBe(true);
    expect(keepAlive(get('/', 'Connection: Close\r\n'))).toBe(false);
    expect(keepAlive(get('/', 'Connection: keep-alive, close\r\n'))).toBe(false);
    expect(keepAlive(get('/', 'Connection: Upgrade\r\nUpgrade: websocket\r\n'))).toBe(false);
    expect(keepAlive('GET / HTTP/1.0\r\n\r\n')).toBe(false);
    expect(keepAlive('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n')).toBe(true);
  });

  it('reads nothing after a request that closes the connection', () => {
    const { requests, isIdle } = parseRequests(get('/a', 'Connection: close\r\n') + get('/b'));
    expect(requests.map((r) => r.target)).toEqual(['/a']);
    expect(isIdle).toBe(true);
  });

  it('flags Expect: 100-continue in any case', () => {
    const { requests } = parseRequests(post('x', 'Expect: 100-Continue\r\n'));
    expect(requests[0]?.expectsContinue).toBe(true);
  });

  it('accepts the limits exactly, and refuses one past them', () => {
    const head = get('/', 'X: 1\r\n');
    expect(parseRequests(head, { options: { maxHeaderBytes: head.length } }).refusal).toBeUndefined();
    expect(parseRequests(head, { options: { maxHeaderBytes: head.length - 1 } }).refusal).toBe(
      REFUSED.headerTooLarge,
    );
    expect(parseRequests(head, { options: { maxHeaderCount: 2 } }).refusal).toBeUndefined();
    expect(parseRequests(head, { options: { maxHeaderCount: 1 } }).refusal).toBe(REFUSED.tooManyHeaders);
  });
});

/**
 * [what, request, refusal]: one case per kind of ambiguity the parser refuses. Each request is all the
 * connection sends: a line is judged once its LF arrives, so a line that never ends is refused as cut short.
 */
const REFUSALS: [string, string, (typeof REFUSED)[keyof typeof REFUSED]][] = [
  ['obs-fold', get('/', 'X: a\r\n b\r\n'), REFUSED.obsFold],
  ['obs-fold of the first header', `GET / HTTP/1.1\r\n Host: gw\r\n\r\n`, REFUSED.obsFold],
  [
    'Content-Length with Transfer-Encoding',
    chunked('0\r\n\r\n', 'Content-Length: 5\r\n'),
    REFUSED.lengthAndChunked,
  ],
  ['repeated Content-Length, same value', post('a', 'Content-Length: 1\r\n'), REFUSED.repeatedContentLength],
  ['Content-Length list', get('/', 'Content-Length: 1,1\r\n'), REFUSED.contentLength],
  ['Content-Length with +', get('/', 'Content-Length: +1\r\n'), REFUSED.contentLength],
  ['negative Content-Length', get('/', 'Content-Length: -1\r\n'), REFUSED.contentLength],
  ['space inside Content-Length', get('/', 'Content-Length: 1 1\r\n'), REFUSED.contentLength],
  ['empty Content-Length', get('/', 'Content-Length:\r\n'), REFUSED.contentLength],
  ['Content-Length with trailing whitespace', get('/', 'Content-Length: 1\t\r\n'), REFUSED.contentLength],
  ['hex Content-Length', get('/', 'Content-Length: 0x1\r\n'), REFUSED.contentLength],
  ['huge Content-Length', get('/', 'Content-Length: 1000000000000000\r\n'), REFUSED.contentLengthTooLarge],
  ['Transfer-Encoding other than chunked', get('/', 'Transfer-Encoding: gzip\r\n'), REFUSED.transferEncoding],
  ['Transfer-Encoding in capitals', get('/', 'Transfer-Encoding: Chunked\r\n'), REFUSED.transferEncoding],
  ['Transfer-Encoding list', get('/', 'Transfer-Encoding: gzip, chunked\r\n'), REFUSED.transferEncoding],
  ['chunked twice in a list', get('/', 'Transfer-Encoding: chunked, chunked\r\n'), REFUSED.transferEncoding],
  [
    'repeated Transfer-Encoding',
    chunked('', 'Transfer-Encoding: chunked\r\n'),
    REFUSED.repeatedTransferEncoding,
  ],
  [
    'chunked in HTTP/1.0',
    'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    REFUSED.chunkedHttp10,
  ],
  ['bad character in a name', get('/', 'X(y): z\r\n'), REFUSED.fieldName],
  ['empty name', get('/', ': z\r\n'), REFUSED.fieldName],
  ['CR where a known name has a dash', get('/', 'Content\rLength: 1\r\n'), REFUSED.bareCarriageReturn],
  ['control byte inside a known name', get('/', 'Ho\x13t: gw\r\n'), REFUSED.fieldName],
  ['NUL in a name', get('/', 'X\0: z\r\n'), REFUSED.fieldName],
  ['NUL in a value', get('/', 'X: a\0b\r\n'), REFUSED.fieldValue],
  ['DEL in a value', get('/', 'X: a\x7fb\r\n'), REFUSED.fieldValue],
  ['NUL in the target', get('/a\0b'), REFUSED.target],
  ['space before the colon', get('/', 'Host : gw\r\n'), REFUSED.spaceBeforeColon],
  ['tab before the colon', get('/', 'X\t: y\r\n'), REFUSED.spaceBeforeColon],
  ['bare LF after the request line', `GET / HTTP/1.1\n${HOST}\r\n`, REFUSED.bareLineFeed],
  ['bare LF after a header', `GET / HTTP/1.1\r\nHost: gw\n\r\n`, REFUSED.bareLineFeed],
  ['bare LF as the empty line', `GET / HTTP/1.1\r\n${HOST}\n`, REFUSED.bareLineFeed],
  ['CR-only line ends', 'GET / HTTP/1.1\rHost: gw\r\r', REFUSED.incomplete],
  ['CR-only line ends, then an LF', 'GET / HTTP/1.1\rHost: gw\r\r\n', REFUSED.bareCarriageReturn],
  ['CR inside a value', get('/', 'X: a\rb\r\n'), REFUSED.bareCarriageReturn],
  ['two spaces after the method', `GET  / HTTP/1.1\r\n${HOST}\r\n`, REFUSED.target],
  ['tab as separator', `GET\t/ HTTP/1.1\r\n${HOST}\r\n`, REFUSED.method],
  ['no version', `GET /\r\n${HOST}\r\n`, REFUSED.target],
  ['lower-case version', `GET / http/1.1\r\n${HOST}\r\n`, REFUSED.version],
  ['space after the version', `GET / HTTP/1.1 \r\n${HOST}\r\n`, REFUSED.version],
  ['HTTP/2.0', `GET / HTTP/2.0\r\n${HOST}\r\n`, REFUSED.unsupportedVersion],
  ['HTTP/1.2', `GET / HTTP/1.2\r\n${HOST}\r\n`, REFUSED.unsupportedVersion],
  ['HTTP/0.9', `GET / HTTP/0.9\r\n${HOST}\r\n`, REFUSED.unsupportedVersion],
  ['lower-case method', get().replace('GET', 'get'), REFUSED.unsupportedMethod],
  ['unknown method', get().replace('GET', 'PURGE'), REFUSED.unsupportedMethod],
  ['CONNECT', `CONNECT gw:443 HTTP/1.1\r\n${HOST}\r\n`, REFUSED.unsupportedMethod],
  ['TRACE', get().replace('GET', 'TRACE'), REFUSED.unsupportedMethod],
  ['asterisk-form with GET', get('*'), REFUSED.targetForm],
  ['relative target', get('get/k'), REFUSED.target],
  ['authority-form', get('gw:443'), REFUSED.target],
  ['userinfo in absolute-form', get('http://user@gw/'), REFUSED.target],
  ['absolute-form without authority', get('http:///get/k'), REFUSED.target],
  ['other scheme', get('ftp://gw/'), REFUSED.target],
  ['fragment', get('/get/k#x'), REFUSED.target],
  ['backslash', get('/get\\k'), REFUSED.target],
  ['byte above 0x7f in the target', get('/caf\xe9'), REFUSED.target],
  ['missing Host', 'GET / HTTP/1.1\r\n\r\n', REFUSED.host],
  ['repeated Host', get('/', HOST), REFUSED.host],
  ['Host with a space', 'GET / HTTP/1.1\r\nHost: g w\r\n\r\n', REFUSED.host],
  ['Host with a path', 'GET / HTTP/1.1\r\nHost: gw/x\r\n\r\n', REFUSED.host],
  ['Connection element that is no token', get('/', 'Connection: \xff keep-alive\r\n'), REFUSED.connection],
  ['Connection element with a space', get('/', 'Connection: keep alive\r\n'), REFUSED.connection],
  ['other expectation', post('x', 'Expect: 100-continue, x\r\n'), REFUSED.expectation],
  ['repeated Expect', post('x', 'Expect: 100-continue\r\nExpect: 100-continue\r\n'), REFUSED.repeatedExpect],
  ['headers over the byte limit', get('/', `X: ${'a'.repeat(16 * 1024)}\r\n`), REFUSED.headerTooLarge],
  ['over the header count', get('/', 'X: 1\r\n'.repeat(100)), REFUSED.tooManyHeaders],
  ['request line over the limit', get(`/${'a'.repeat(16 * 1024)}`), REFUSED.requestLineTooLong],
  ['0x chunk size', chunked('0x5\r\nhello\r\n0\r\n\r\n'), REFUSED.chunkSize],
  ['space before a chunk size', chunked(' 5\r\nhello\r\n0\r\n\r\n'), REFUSED.chunkSize],
  ['space after a chunk size', chunked('5 \r\nhello\r\n0\r\n\r\n'), REFUSED.chunkSize],
  ['negative chunk size', chunked('-5\r\nhello\r\n0\r\n\r\n'), REFUSED.chunkSize],
  ['empty chunk size', chunked('\r\nhello\r\n0\r\n\r\n'), REFUSED.chunkSize],
  ['overflowing chunk size', chunked('10000000000000005\r\nhello\r\n'), REFUSED.chunkTooLarge],
  ['empty chunk extension', chunked('5;\r\nhello\r\n0\r\n\r\n'), REFUSED.chunkExtension],
  ['empty chunk extension value', chunked('5;a=\r\nhello\r\n0\r\n\r\n'), REFUSED.chunkExtension],
  ['space in a chunk extension', chunked('5; a\r\nhello\r\n0\r\n\r\n'), REFUSED.chunkExtension],
  ['quoted chunk extension', chunked('5;a="b"\r\nhello\r\n0\r\n\r\n'), REFUSED.chunkExtension],
  [
    'chunk extensions past 16 KiB',
    chunked(`1;a=${'b'.repeat(8000)}\r\nx\r\n`.repeat(3)),
    REFUSED.chunkExtension,
  ],
  ['chunk longer than its size', chunked('5\r\nhello!\r\n0\r\n\r\n'), REFUSED.chunkEnd],
  ['chunk data ended by LF only', chunked('5\r\nhello\n0\r\n\r\n'), REFUSED.chunkEnd],
  ['last chunk with LF only', chunked('0\n\r\n'), REFUSED.bareLineFeed],
  ['obs-fold in a trailer', chunked('0\r\nX: a\r\n b\r\n\r\n'), REFUSED.obsFold],
  ['Content-Length in trailers', chunked('0\r\nContent-Length: 5\r\n\r\n'), REFUSED.trailerField],
  ['Connection in trailers', chunked('0\r\nconnection: close\r\n\r\n'), REFUSED.trailerField],
  ['too many trailers', chunked(`0\r\n${'X: 1\r\n'.repeat(101)}\r\n`), REFUSED.trailers],
];

describe('RequestParser: what it refuses', () => {
  it.each(REFUSALS)('%s', (_, request, expected) => {
    const { requests, refusal } = parseRequests(request, { atEnd: true });
    expect(refusal).toBe(expected);
    // Refused before the request was complete: nothing of it reaches a route.
    expect(requests.filter((r) => r.isComplete)).toEqual([]);
  });

  it('reads nothing more once it refused', () => {
    const { requests, refusal } = parseRequests(`${get('/', 'X: a\0\r\n')}${get('/next')}`);
    expect(refusal).toBe(REFUSED.fieldValue);
    expect(requests).toEqual([]);
  });

  it('refuses a request cut short by the end of the connection, but not an idle connection', () => {
    expect(parseRequests(post('abc').slice(0, -1), { atEnd: true }).refusal).toBe(REFUSED.incomplete);
    expect(parseRequests(get().slice(0, 5), { atEnd: true }).refusal).toBe(REFUSED.incomplete);
    expect(parseRequests(get(), { atEnd: true }).refusal).toBeUndefined();
    expect(parseRequests('', { atEnd: true }).refusal).toBeUndefined();
  });

  it('refuses an oversized line as it arrives, without buffering the rest of it', () => {
    const parser = new RequestParser({ onHead() {}, onBody() {}, onEnd() {} }, { maxHeaderBytes: 1024 });
    const line = Buffer.from(get('/', `X: ${'a'.repeat(4096)}\r\n`));
    let fed = 0;
    while (parser.refusal === undefined && fed < line.length) parser.execute(line.subarray(fed, ++fed));
    expect(parser.refusal).toBe(REFUSED.headerTooLarge);
    expect(fed).toBe(1025);
  });
});

describe('RequestParser: input split anywhere', () => {
  const pipelined = [
    post('["SET","k","v"]', 'Expect: 100-continue\r\n'),
    get('http://gw/get/k', 'Connection: keep-alive\r\n'),
    chunked('3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n'),
    '\r\n',
    get('/last', 'Connection: close\r\n'),
  ].join('');

  it('gives the same requests for every two-piece cut and for one byte at a time', () => {
    const whole = parseRequests(pipelined);
    expect(whole.refusal).toBeUndefined();
    expect(whole.requests).toHaveLength(4);
    for (let cut = 1; cut < pipelined.length; cut++) {
      expect(parseRequests(pipelined, { cuts: [cut] }), `cut at ${cut}`).toEqual(whole);
    }
    expect(parseRequests(pipelined, { cuts: everyByte(pipelined.length) })).toEqual(whole);
  });

  it.each(REFUSALS.filter(([, request]) => request.length < 2000))(
    'refuses the same way cut anywhere: %s',
    (_, request, expected) => {
      for (let cut = 1; cut < request.length; cut++) {
        expect(parseRequests(request, { cuts: [cut], atEnd: true }).refusal, `cut at ${cut}`).toBe(expected);
      }
      expect(parseRequests(request, { cuts: everyByte(request.length), atEnd: true }).refusal).toBe(expected);
    },
  );
});

describe('RequestParser: pause and resume', () => {
  it('stops after the callback that pauses, and goes on from where it stopped', () => {
    const targets: string[] = [];
    const parser: RequestParser = new RequestParser({
      onHead: (head) => targets.push(head.target),
      onBody() {},
      onEnd: () => parser.pause(),
    });
    const input = Buffer.from(get('/a') + get('/b') + get('/c'));
    const used = parser.execute(input);
    expect(targets).toEqual(['/a']);
    expect(used).toBe(get('/a').length);
    expect(parser.execute(input.subarray(used))).toBe(0);
    parser.resume();
    const rest = input.subarray(used);
    expect(parser.execute(rest)).toBe(get('/b').length);
    expect(targets).toEqual(['/a', '/b']);
  });

  it('can hold a body back until the request is admitted (100-continue)', () => {
    const events: string[] = [];
    const parser: RequestParser = new RequestParser({
      onHead: () => {
        events.push('head');
        parser.pause();
      },
      onBody: (chunk) => events.push(chunk.toString()),
      onEnd: () => events.push('end'),
    });
    const input = Buffer.from(post('xyz', 'Expect: 100-continue\r\n'));
    const used = parser.execute(input);
    expect(events).toEqual(['head']);
    parser.resume();
    expect(parser.execute(input.subarray(used))).toBe(input.length - used);
    expect(events).toEqual(['head', 'xyz', 'end']);
  });
});
