/**
 * Runs the edge function on Node for local development (`npm start`, port `PORT`, default 8787): each HTTP
 * request becomes the `Request` an edge runtime would pass to `fetch(request, env)`, with the bindings taken
 * from the environment. Deployed, the runtime does this itself (see README.md); this file is not deployed.
 */
import { createServer } from 'node:http';
import worker, { type Env } from './index.js';

const env: Env = {
  CACHEGATE_URL: process.env.CACHEGATE_URL ?? '',
  CACHEGATE_TOKEN: process.env.CACHEGATE_TOKEN ?? '',
  ...(process.env.RATE_LIMIT === undefined ? {} : { RATE_LIMIT: process.env.RATE_LIMIT }),
};
const port = Number(process.env.PORT ?? 8787);

const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  }
  // The edge's view of the caller, which the function rate limits by.
  headers.set('cf-connecting-ip', req.socket.remoteAddress ?? 'local');
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && chunks.length > 0;
  const request = new Request(`http://localhost:${port}${req.url ?? '/'}`, {
    method: req.method ?? 'GET',
    headers,
    ...(hasBody ? { body: Buffer.concat(chunks) } : {}),
  });
  const response = await worker.fetch(request, env);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
});
server.listen(port, () => console.log(`edge function on http://localhost:${port}/views/home`));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => server.close());
