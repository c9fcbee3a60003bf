import { createServer, type Server } from 'node:http';

/**
 * `CACHEGATE_METRICS_PORT`: Prometheus text on its own listener, without a token, for scrapers on a private
 * network. `collect` gives the text (one process's registry, or the sum over workers).
 */
export async function listenForMetrics(
  port: number,
  host: string,
  contentType: string,
  collect: () => Promise<string>,
): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Route not found"}');
      return;
    }
    collect().then(
      (text) => response.writeHead(200, { 'content-type': contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, done);
  });
  return server;
}
