// A minimal honest gateway: the least work a correct `POST /` gateway must do, with nothing else. It reads
// the body, parses it, checks the Bearer token (by SHA-256 digest, as cachegate stores tokens), sends the
// command to Redis with @redis/client (the gateway's driver) and encodes the reply. No routing, policy,
// metrics, limits or timeouts: the gap from here to get-post is what cachegate's features cost.
// Usage: PORT=<port> REDIS_URL=... TOKEN=<token> node bench/reference/minimal-gateway.mjs
import { hash } from 'node:crypto';
import { createServer } from 'node:http';
import { createClient } from '@redis/client';

const digest = (token) => hash('sha256', token, 'base64');
const expected = digest(process.env.TOKEN);
const client = createClient({ url: process.env.REDIS_URL });
client.on('error', (error) => console.error(error));
await client.connect();

function answer(response, status, payload) {
  const body = JSON.stringify(payload);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  response.end(body);
}

const server = createServer((request, response) => {
  // The bench's readiness probe: Redis is connected before the server listens.
  if (request.method === 'GET' && request.url === '/readyz') return answer(response, 200, { status: 'ok' });
  const presented = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  if (presented === undefined || digest(presented) !== expected) {
    request.resume();
    return answer(response, 401, { error: 'Unauthorized' });
  }
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.once('end', async () => {
    try {
      const command = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      answer(response, 200, { result: await client.sendCommand(command) });
    } catch (error) {
      // A malformed body or a Redis error reply.
      answer(response, 400, { error: error.message });
    }
  });
});
server.keepAliveTimeout = 650_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => client.close().then(() => process.exit(0))));
