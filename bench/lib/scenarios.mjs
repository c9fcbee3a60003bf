// What a run measures. Gateway scenarios restart the gateway each round, so RSS is per scenario.

/** 100 B, 1 KiB and 64 KiB values; the cache entry is JSON text, as the cache API stores it. */
export const SEED = {
  'bench:v100': 'a'.repeat(100),
  'bench:v1k': 'k'.repeat(1024),
  'bench:v64k': 'x'.repeat(64 * 1024),
  'bench:cache': JSON.stringify('c'.repeat(100)),
  // redis-benchmark -t get without -r reads this literal key.
  'key:__rand_int__': 'r'.repeat(100),
};

/**
 * kind: gateway (wrk against cachegate), responder (wrk against `file`, default bench/reference/http-responder.mjs),
 * redis-benchmark, client-loop (bench/reference/redis-client-loop.mjs).
 * probe: one request checked before the load, so a misconfigured scenario fails loudly instead of
 * measuring error responses.
 * compare: with --baseline, also run against the baseline build as `<id>-before`.
 * tls: the gateway serves HTTPS with a self-signed certificate made at bench start.
 * redis: a responder that gets REDIS_URL and TOKEN (the bench's Redis and token); ready: its readiness path.
 * gatewayEnv: settings the gateway runs with in this scenario.
 */
export const SCENARIOS = [
  {
    id: 'get-post',
    label: 'GET 100 B via POST /',
    kind: 'gateway',
    compare: true,
    script: 'command-post.lua',
    env: { BENCH_CMD: 'GET', BENCH_KEY: 'bench:v100' },
    probe: { method: 'POST', path: '/', body: '["GET","bench:v100"]', expect: SEED['bench:v100'] },
  },
  {
    id: 'get-path',
    label: 'GET 100 B via path /get/k',
    kind: 'gateway',
    compare: true,
    script: 'get-path.lua',
    env: { BENCH_KEY: 'bench:v100' },
    probe: { method: 'GET', path: '/get/bench:v100', expect: SEED['bench:v100'] },
  },
  {
    id: 'get-near',
    label: 'GET 100 B via POST /, near cache on',
    kind: 'gateway',
    gatewayEnv: { CACHEGATE_NEAR_CACHE: 'on' },
    script: 'command-post.lua',
    env: { BENCH_CMD: 'GET', BENCH_KEY: 'bench:v100' },
    probe: { method: 'POST', path: '/', body: '["GET","bench:v100"]', expect: SEED['bench:v100'] },
  },
  {
    id: 'get-close',
    label: 'GET 100 B via POST /, Connection: close',
    kind: 'gateway',
    script: 'command-post.lua',
    // A new TCP connection per request, as a cold serverless instance opens.
    env: { BENCH_CMD: 'GET', BENCH_KEY: 'bench:v100', BENCH_CLOSE: '1' },
    probe: { method: 'POST', path: '/', body: '["GET","bench:v100"]', expect: SEED['bench:v100'] },
  },
  {
    id: 'get-https',
    label: 'GET 100 B via POST /, HTTPS',
    kind: 'gateway',
    tls: true,
    script: 'command-post.lua',
    env: { BENCH_CMD: 'GET', BENCH_KEY: 'bench:v100' },
    probe: { method: 'POST', path: '/', body: '["GET","bench:v100"]', expect: SEED['bench:v100'] },
  },
  {
    id: 'set',
    label: 'SET 100 B via POST /',
    kind: 'gateway',
    script: 'command-post.lua',
    env: { BENCH_CMD: 'SET', BENCH_KEY: 'bench:set' },
    probe: { method: 'POST', path: '/', body: `["SET","bench:set","${'s'.repeat(100)}"]`, expect: 'OK' },
  },
  {
    id: 'get-1k',
    label: 'GET 1 KiB via POST /',
    kind: 'gateway',
    script: 'command-post.lua',
    env: { BENCH_CMD: 'GET', BENCH_KEY: 'bench:v1k' },
    probe: { method: 'POST', path: '/', body: '["GET","bench:v1k"]', expect: SEED['bench:v1k'] },
  },
  {
    id: 'get-64k',
    label: 'GET 64 KiB via POST /',
    kind: 'gateway',
    script: 'command-post.lua',
    env: { BENCH_CMD: 'GET', BENCH_KEY: 'bench:v64k' },
    probe: { method: 'POST', path: '/', body: '["GET","bench:v64k"]', expect: SEED['bench:v64k'] },
  },
  {
    id: 'cache-get',
    label: 'Cache API GET /v1/cache/k',
    kind: 'gateway',
    script: 'cache-get.lua',
    env: { BENCH_KEY: 'bench:cache' },
    probe: { method: 'GET', path: '/v1/cache/bench:cache', expect: 'c'.repeat(100) },
  },
  {
    id: 'pipeline',
    label: '/pipeline of 100 GETs',
    kind: 'gateway',
    compare: true,
    script: 'pipeline.lua',
    env: { BENCH_PIPELINE: '100', BENCH_KEY: 'bench:v100' },
    commandsPerRequest: 100,
    probe: { method: 'POST', path: '/pipeline', body: '[["GET","bench:v100"]]', expect: SEED['bench:v100'] },
  },
  {
    // What @upstash/redis auto-pipelining sends from a typical function: a few commands per request.
    id: 'pipeline-3',
    label: '/pipeline of 3 GETs',
    kind: 'gateway',
    compare: true,
    script: 'pipeline.lua',
    env: { BENCH_PIPELINE: '3', BENCH_KEY: 'bench:v100' },
    commandsPerRequest: 3,
    probe: { method: 'POST', path: '/pipeline', body: '[["GET","bench:v100"]]', expect: SEED['bench:v100'] },
  },
  {
    id: 'mix',
    label: '90/10 GET/SET via POST /',
    kind: 'gateway',
    script: 'mix.lua',
    env: { BENCH_WRITE_PERCENT: '10' },
    probe: { method: 'POST', path: '/', body: '["GET","bench:v100"]', expect: SEED['bench:v100'] },
  },
  {
    id: 'http-responder',
    label: 'ref: bare node:http responder',
    kind: 'responder',
    reference: true,
    script: 'command-post.lua',
    env: { BENCH_CMD: 'GET', BENCH_KEY: 'bench:v100' },
  },
  {
    // Issue 24: what HTTP/1.1 in JavaScript straight on node:net reaches when framing is all it does.
    id: 'net-responder',
    label: 'ref: raw node:net responder',
    kind: 'responder',
    file: 'reference/net-responder.mjs',
    reference: true,
    script: 'command-post.lua',
    env: { BENCH_CMD: 'GET', BENCH_KEY: 'bench:v100' },
  },
  {
    id: 'http-responder-close',
    label: 'ref: bare node:http, Connection: close',
    kind: 'responder',
    reference: true,
    script: 'command-post.lua',
    env: { BENCH_CMD: 'GET', BENCH_KEY: 'bench:v100', BENCH_CLOSE: '1' },
  },
  {
    id: 'fastify-responder',
    label: 'ref: empty Fastify app',
    kind: 'responder',
    file: 'reference/fastify-responder.mjs',
    reference: true,
    script: 'command-post.lua',
    env: { BENCH_CMD: 'GET', BENCH_KEY: 'bench:v100' },
  },
  {
    id: 'minimal-gateway',
    label: 'ref: minimal honest gateway',
    kind: 'responder',
    file: 'reference/minimal-gateway.mjs',
    reference: true,
    redis: true,
    ready: '/readyz',
    script: 'command-post.lua',
    env: { BENCH_CMD: 'GET', BENCH_KEY: 'bench:v100' },
    probe: { method: 'POST', path: '/', body: '["GET","bench:v100"]', expect: SEED['bench:v100'] },
  },
  {
    id: 'redis-p1',
    label: 'ref: redis-benchmark GET -P 1',
    kind: 'redis-benchmark',
    reference: true,
    pipeline: 1,
  },
  {
    id: 'redis-p16',
    label: 'ref: redis-benchmark GET -P 16',
    kind: 'redis-benchmark',
    reference: true,
    pipeline: 16,
  },
  {
    id: 'node-redis',
    label: 'ref: node-redis client loop',
    kind: 'client-loop',
    reference: true,
  },
];

/** The multi-core comparison: unpinned by definition (two workers need two cores). */
export const WORKER_SCENARIOS = [1, 2].map((workers) => ({
  id: `workers-${workers}`,
  label: `GET 100 B via POST /, ${workers} worker${workers > 1 ? 's' : ''}, unpinned`,
  kind: 'gateway',
  workers,
  unpinned: true,
  script: 'command-post.lua',
  env: { BENCH_CMD: 'GET', BENCH_KEY: 'bench:v100' },
  probe: { method: 'POST', path: '/', body: '["GET","bench:v100"]', expect: SEED['bench:v100'] },
}));
