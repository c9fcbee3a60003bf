// The platform's limit: a bare node:http server that reads each request body and answers every request
// with the same constant JSON, the shape of a 100 B GET through the gateway. No routing, no auth, no Redis.
// Usage: PORT=<port> node bench/reference/http-responder.mjs
import { createServer } from 'node:http';

const body = Buffer.from(JSON.stringify({ result: 'a'.repeat(100) }));
const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length };

const server = createServer((request, response) => {
  request.resume();
  request.once('end', () => {
    response.writeHead(200, headers);
    response.end(body);
  });
});
server.keepAliveTimeout = 650_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
