// A measuring stick, not a server: HTTP/1.1 straight on node:net with nothing but framing. It finds where
// each request ends (the blank line after the head, then Content-Length bytes of body) and answers every
// request with the same constant, the shape of a 100 B GET through the gateway, all answers of one read in
// one write. No validation, no chunked bodies, no timeouts, no limits: what a JavaScript HTTP/1.1 layer on
// one core could reach if parsing and answering cost nothing. `Connection: close` is honoured, so that it
// can stand next to `http-responder-close` too.
// Usage: PORT=<port> node bench/reference/net-responder.mjs
import { createServer } from 'node:net';

const body = JSON.stringify({ result: 'a'.repeat(100) });
const answer = Buffer.from(
  `HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
);
const HEAD_END = Buffer.from('\r\n\r\n');
// Header names in the two spellings clients use (wrk writes `Content-Length`); nothing else is matched.
const LENGTH = [Buffer.from('\r\nContent-Length:'), Buffer.from('\r\ncontent-length:')];
const CLOSE = [Buffer.from('\r\nConnection: close'), Buffer.from('\r\nconnection: close')];

function find(head, needles) {
  for (const needle of needles) {
    const at = head.indexOf(needle);
    if (at !== -1) return at + needle.length;
  }
  return -1;
}

/** The decimal value after a `Content-Length:` in `head`, or 0 when there is none. */
function contentLength(head) {
  let i = find(head, LENGTH);
  if (i === -1) return 0;
  while (head[i] === 0x20) i++;
  let length = 0;
  for (let byte = head[i]; byte >= 0x30 && byte <= 0x39; byte = head[++i]) length = length * 10 + byte - 0x30;
  return length;
}

const server = createServer({ noDelay: true }, (socket) => {
  let held;
  socket.on('data', (chunk) => {
    const input = held === undefined ? chunk : Buffer.concat([held, chunk]);
    let start = 0;
    let answers = 0;
    let closes = false;
    for (;;) {
      const headEnd = input.indexOf(HEAD_END, start);
      if (headEnd === -1) break;
      const head = input.subarray(start, headEnd + 2);
      const end = headEnd + 4 + contentLength(head);
      if (end > input.length) break;
      answers++;
      start = end;
      if (find(head, CLOSE) !== -1) {
        closes = true;
        break;
      }
    }
    held = start < input.length && !closes ? input.subarray(start) : undefined;
    if (answers === 1) socket.write(answer);
    else if (answers > 1) socket.write(Buffer.concat(Array.from({ length: answers }, () => answer)));
    if (closes) socket.end();
  });
  socket.on('error', () => socket.destroy());
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
