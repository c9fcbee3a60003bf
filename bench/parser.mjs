#!/usr/bin/env node
// node bench/parser.mjs [--seconds S] [--rounds N]: requests/s of the gateway's HTTP/1.1 request parser
// (packages/server/dist/http/engine, so `npm run build` first) against llhttp, node:http's own parser,
// driven the way node:http drives it (header strings handed to JavaScript per request). Parsing only: no
// sockets, no answers. Not part of `npm test` or `npm run bench`; see bench/README.md.
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const { RequestParser } = await import('../packages/server/dist/http/engine/request-parser.js');

const { values: flags } = parseArgs({
  options: { seconds: { type: 'string', default: '1' }, rounds: { type: 'string', default: '5' } },
});
const SECONDS = Number(flags.seconds);
const ROUNDS = Number(flags.rounds);

// What @upstash/redis sends for one command, as a Node runtime sends it (fetch via undici).
const upstashBody = '["GET","bench:v100"]';
const upstash = Buffer.from(
  'POST / HTTP/1.1\r\nhost: cachegate.example.com\r\nconnection: keep-alive\r\n' +
    'authorization: Bearer AXXXAAIjcDE0ZmQ3YjFkYmM4ZTk0NjA2YmI1ZmQ3ZWUzNDYyNDE5MXAxMA\r\n' +
    'content-type: application/json\r\nupstash-telemetry-runtime: node@v22.11.0\r\n' +
    'upstash-telemetry-platform: unknown\r\nupstash-telemetry-sdk: @upstash/redis@v1.34.3\r\n' +
    'accept: */*\r\naccept-language: *\r\nsec-fetch-mode: cors\r\nuser-agent: node\r\n' +
    `accept-encoding: gzip, deflate\r\ncontent-length: ${upstashBody.length}\r\n\r\n${upstashBody}`,
);
// wrk's path-form GET, 16 pipelined in one read.
const PIPELINE_DEPTH = 16;
const pipelined = Buffer.from(
  'GET /get/bench:v100 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: Bearer t0ken\r\n\r\n'.repeat(
    PIPELINE_DEPTH,
  ),
);

/** The gateway's parser, with a sink that touches what a route would read. */
function ownParser() {
  let requests = 0;
  let bodyBytes = 0;
  const parser = new RequestParser({
    onHead(head) {
      if (head.method.length === 0) throw new Error('no method');
    },
    onBody(chunk) {
      bodyBytes += chunk.length;
    },
    onEnd() {
      requests++;
    },
  });
  return { execute: (buffer) => parser.execute(buffer), count: () => requests + bodyBytes * 0 };
}

/** llhttp through node's binding, with the callbacks node:http installs (headers arrive as strings). */
function llhttpParser() {
  const require = createRequire(import.meta.url);
  let HTTPParser;
  try {
    ({ HTTPParser } = require('node:_http_common'));
  } catch {
    return undefined;
  }
  let requests = 0;
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 0, 0);
  parser[HTTPParser.kOnHeaders] = () => {};
  parser[HTTPParser.kOnHeadersComplete] = (_major, _minor, headers, method, url) => {
    if (headers.length === 0 || url.length === 0 || method === undefined) throw new Error('no head');
    return 0;
  };
  parser[HTTPParser.kOnBody] = () => {};
  parser[HTTPParser.kOnMessageComplete] = () => {
    requests++;
  };
  parser[HTTPParser.kOnExecute] = () => {};
  return {
    execute: (buffer) => {
      const result = parser.execute(buffer);
      if (result instanceof Error) throw result;
      return result;
    },
    count: () => requests,
  };
}

/** Requests per second parsing `input` (`perInput` requests) over and over for `seconds`. */
function measure(parser, input, perInput, seconds) {
  const before = parser.count();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let inputs = 0;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 1000; i++) parser.execute(input);
    inputs += 1000;
    now = process.hrtime.bigint();
  }
  const parsed = parser.count() - before;
  if (parsed !== inputs * perInput) throw new Error(`parsed ${parsed} requests of ${inputs * perInput}`);
  return parsed / (Number(now - start) / 1e9);
}

const median = (values) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];
const parsers = { own: ownParser(), llhttp: llhttpParser() };
if (parsers.llhttp === undefined) {
  console.log('llhttp is not reachable in this Node (no _http_common): only the own parser is measured.');
  delete parsers.llhttp;
}
const cases = [
  ['Upstash POST / (one command, 14 headers, 20 B body)', upstash, 1],
  [`pipelined GET /get/k, ${PIPELINE_DEPTH} per read`, pipelined, PIPELINE_DEPTH],
];
console.log(
  `Node ${process.version}, llhttp ${process.versions.llhttp}; ${ROUNDS} rounds of ${SECONDS} s, medians`,
);
for (const [label, input, perInput] of cases) {
  for (const parser of Object.values(parsers)) measure(parser, input, perInput, 0.3); // warm-up
  const results = Object.fromEntries(Object.keys(parsers).map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Alternating order, so that a steady change of the machine's load favours neither.
    const names = round % 2 === 0 ? Object.keys(parsers) : Object.keys(parsers).reverse();
    for (const name of names) results[name].push(measure(parsers[name], input, perInput, SECONDS));
  }
  const line = Object.entries(results).map(
    ([name, values]) =>
      `${name} ${Math.round(median(values)).toLocaleString('en-US')} req/s (${(1e9 / median(values)).toFixed(0)} ns/req)`,
  );
  const ratio = results.llhttp
    ? `; own ÷ llhttp ${(median(results.own) / median(results.llhttp)).toFixed(2)}`
    : '';
  console.log(`${label}: ${line.join(', ')}${ratio}`);
}
