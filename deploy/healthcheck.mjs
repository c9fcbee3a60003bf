// Container health probe: `node /app/healthcheck.mjs [/livez|/readyz]` exits 0 when the gateway answers 2xx.
// The slim image has no curl; this uses node's own http(s) client. It speaks HTTPS when the gateway does
// (CACHEGATE_TLS_CERT set), without verifying the certificate: the probe runs inside the container against
// 127.0.0.1, where the certificate's name cannot match and no token is sent.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

const path = process.argv[2] ?? '/livez';
const port = Number(process.env.PORT || 8080);
const bound = process.env.HOST || '0.0.0.0';
const host = bound === '0.0.0.0' || bound === '::' ? '127.0.0.1' : bound;
const tls = Boolean(process.env.CACHEGATE_TLS_CERT);
const request = tls ? httpsRequest : httpRequest;

const req = request({ host, port, path, method: 'GET', timeout: 2500, rejectUnauthorized: false }, (res) => {
  res.resume();
  const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
  if (!ok) console.error(`healthcheck: GET ${path} answered ${res.statusCode}`);
  process.exit(ok ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timed out')));
req.on('error', (error) => {
  console.error(`healthcheck: GET ${path} failed: ${error.message}`);
  process.exit(1);
});
req.end();
