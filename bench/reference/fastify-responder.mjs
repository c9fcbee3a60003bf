// The framework's limit: an empty Fastify app that reads the body as the gateway does (raw bytes for any
// Content-Type), parses it as JSON, and answers the same constant as the bare node:http responder. No auth,
// no Redis, no hooks. The gateway can at best approach this; the gap to http-responder is Fastify's own.
// Usage: PORT=<port> node bench/reference/fastify-responder.mjs
import Fastify from 'fastify';

const result = 'a'.repeat(100);
const app = Fastify({ logger: false, keepAliveTimeout: 650_000 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
app.post('/', async (request) => {
  JSON.parse(request.body.toString('utf8'));
  return { result };
});
// The bench's readiness probe is GET /.
app.get('/', async () => ({ result }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
console.log('listening');
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
