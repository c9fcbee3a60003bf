#!/usr/bin/env node
// npm run bench [-- options]: the cachegate benchmark suite. See bench/README.md.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runRedisBenchmark, runWrk } from './lib/load.mjs';
import {
  cpuSeconds,
  httpRequest,
  killAll,
  LOAD_CPU,
  machineBusySeconds,
  pinProcess,
  rssBytes,
  run,
  SERVER_CPU,
  startProcess,
  track,
  waitForHttp,
} from './lib/procs.mjs';
import { formatProfile, summarizeProfile } from './lib/profile.mjs';
import { renderMarkdown } from './lib/report.mjs';
import { SCENARIOS, SEED, WORKER_SCENARIOS } from './lib/scenarios.mjs';
import { summarize } from './lib/stats.mjs';
import { renderSvg } from './lib/svg.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const BENCH = join(ROOT, 'bench');
const WORK = join(BENCH, '.work');
const GATEWAY_MAIN = join(ROOT, 'packages/server/dist/main.js');
// A full run copies the built gateway here first: others may rebuild packages/ during a 15-minute run.
const SNAPSHOT = join(WORK, 'server');
const EMBEDDED = join(ROOT, 'packages/server/dist/redis/embedded.js');

const COMPARED = SCENARIOS.filter((s) => s.compare)
  .map((s) => s.id)
  .join(', ');

const HELP = `Usage: npm run bench -- [options]

  --runs N          runs of every scenario, medians reported (default 3)
  --duration S      seconds per measured run (default 5)
  --warmup S        seconds of discarded load before a gateway is measured (default 2)
  --connections L   comma-separated connection counts (default 50,200)
  --threads N       wrk threads (default 1)
  --only IDS        comma-separated scenario ids (${[...SCENARIOS, ...WORKER_SCENARIOS].map((s) => s.id).join(', ')})
  --no-workers      skip the unpinned 1-vs-2-worker comparison
  --max-others P    repeat a run during which other jobs used more than P % of a core (default 30)
  --retries N       repeats of a disturbed run; the quietest attempt is kept (default 2)
  --unpinned        do not pin anything with taskset
  --quick           1 run of 2 s, 1 s warm-up; writes bench/results/quick.* (gitignored)
  --profile         profile GET via POST / (or the --only scenario) under node --cpu-prof; writes bench/profiles/
  --baseline PATH   main.js of another gateway build (e.g. the previous release's packages/server/dist/main.js);
                    ${COMPARED} also run against it as <id>-before, in the same rounds
  --out DIR         results folder (default bench/results)
`;

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '50,200' },
    threads: { type: 'string', default: '1' },
    only: { type: 'string' },
    'no-workers': { type: 'boolean', default: false },
    unpinned: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'max-others': { type: 'string', default: '30' },
    retries: { type: 'string', default: '2' },
    out: { type: 'string', default: join(BENCH, 'results') },
    baseline: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(HELP);
  process.exit(0);
}

const options = {
  runs: Number(flags.runs ?? (flags.quick ? 1 : 3)),
  duration: Number(flags.duration ?? (flags.quick ? 2 : 5)),
  warmup: Number(flags.warmup ?? (flags.quick ? 1 : 2)),
  connections: flags.connections.split(',').map(Number),
  threads: Number(flags.threads),
  pinned: !flags.unpinned,
  workers: !flags['no-workers'],
  only: flags.only?.split(',').map((s) => s.trim()),
  maxOthers: Number(flags['max-others']),
  retries: Number(flags.retries),
  baseline: flags.baseline && resolve(flags.baseline),
};
for (const [name, value] of Object.entries({
  runs: options.runs,
  duration: options.duration,
  threads: options.threads,
})) {
  if (!Number.isInteger(value) || value < 1) fail(`--${name} must be a positive integer`);
}
// wrk takes whole seconds.
if (!Number.isInteger(options.warmup) || options.warmup < 0)
  fail('--warmup must be a whole number of seconds');
if (!Number.isInteger(options.retries) || options.retries < 0) fail('--retries must be 0 or more');
if (!(options.maxOthers >= 0)) fail('--max-others must be a percentage');
if (options.connections.some((c) => !Number.isInteger(c) || c < 1))
  fail('--connections must list positive integers');
if (options.baseline !== undefined && !existsSync(options.baseline))
  fail(`--baseline ${options.baseline} does not exist (the main.js of a built gateway)`);
if (options.baseline !== undefined && flags.profile) fail('--baseline is for benchmarks, not --profile');

const cpus = (unpinned) => (options.pinned && !unpinned ? { load: LOAD_CPU, server: SERVER_CPU } : {});
const token = randomBytes(24).toString('base64url');
const authHeaders = { authorization: `Bearer ${token}` };

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});
process.on('exit', killAll);

checkPrerequisites();
const { startRedisServer, freePort } = await import(EMBEDDED);
const build = describeBuild();
// The profile is short and keeps the real paths in its stack frames; a benchmark runs a frozen copy.
const gatewayMain = flags.profile ? GATEWAY_MAIN : snapshotGateway();
// Certificate and key of the HTTPS scenarios, made when a selected scenario needs them.
let certificate;
if (flags.profile) await profile();
else await benchmark();
process.exit(0);

async function benchmark() {
  const started = Date.now();
  const loadStart = os.loadavg()[0].toFixed(2);
  const wanted = (s) => options.only === undefined || options.only.includes(s.id);
  // With --baseline, each compared scenario is followed by its clone on the baseline build, so both
  // run in every round, next to each other.
  const withBaseline = (s) =>
    options.baseline && s.compare
      ? [s, { ...s, id: `${s.id}-before`, label: `${s.label} (before)`, main: options.baseline }]
      : [s];
  const pinnedScenarios = SCENARIOS.filter(wanted).flatMap(withBaseline);
  const workerScenarios = options.workers ? WORKER_SCENARIOS.filter(wanted) : [];
  if (pinnedScenarios.length + workerScenarios.length === 0) fail(`--only matched no scenario`);
  if (pinnedScenarios.some((s) => s.tls)) certificate = makeCertificate();
  const phases = [
    { scenarios: pinnedScenarios, unpinned: false },
    { scenarios: workerScenarios, unpinned: true },
  ].filter((p) => p.scenarios.length > 0);
  const estimate =
    phases.reduce((sum, p) => sum + p.scenarios.length, 0) *
    options.runs *
    (options.connections.length * options.duration + options.warmup + 2);
  console.log(
    `cachegate bench: ${options.pinned ? 'pinned' : 'unpinned'}, ${options.runs} run(s) × ${options.duration} s, about ${Math.ceil(estimate / 60)} min`,
  );

  const redis = await startBenchRedis();
  const results = { meta: {}, scenarios: {} };
  for (const s of [...pinnedScenarios, ...workerScenarios]) {
    results.scenarios[s.id] = {
      id: s.id,
      label: s.label,
      kind: s.kind,
      reference: s.reference === true,
      workers: s.workers ?? (s.kind === 'gateway' ? 1 : undefined),
      pinned: options.pinned && !s.unpinned,
      byConnections: Object.fromEntries(options.connections.map((c) => [c, { runs: [], summary: {} }])),
    };
  }

  const redisBenchmarkSize = new Map();
  try {
    // Every round runs every phase, so a burst of load from other jobs hits one round of each scenario.
    for (let round = 0; round < options.runs; round++) {
      for (const phase of phases) {
        // Redis follows the phase: on the server CPU when pinned, free for the worker comparison.
        if (options.pinned) pinProcess(redis.process.pid, phase.unpinned ? '0-1' : SERVER_CPU);
        // Alternating the order each round cancels a steady drift in the machine's load.
        const order = round % 2 === 0 ? phase.scenarios : [...phase.scenarios].reverse();
        for (const scenario of order) {
          const label = `[${round + 1}/${options.runs}] ${scenario.id}`;
          const cpu = cpus(phase.unpinned || scenario.unpinned);
          // Other jobs on this shared machine can take a core for seconds: a run they disturbed is
          // repeated, and the quietest attempt is kept.
          let kept;
          for (let attempt = 1; attempt <= options.retries + 1; attempt++) {
            const measured = await measureScenario(scenario, redis, cpu, redisBenchmarkSize);
            const noise = Math.max(0, ...Object.values(measured).map((r) => r.othersCpuPercent ?? 0));
            for (const [conns, result] of Object.entries(measured)) {
              result.attempt = attempt;
              console.log(progressLine(label, conns, result));
            }
            if (kept === undefined || noise < kept.noise) kept = { measured, noise };
            if (noise <= options.maxOthers) break;
            if (attempt <= options.retries)
              console.log(`${label}: other jobs used ${Math.round(noise)}% CPU, again`);
          }
          for (const [conns, result] of Object.entries(kept.measured)) {
            results.scenarios[scenario.id].byConnections[conns].runs.push(result);
          }
        }
      }
    }
  } finally {
    await redis.stop();
  }

  for (const scenario of Object.values(results.scenarios)) {
    for (const cell of Object.values(scenario.byConnections)) cell.summary = summarize(cell.runs);
  }
  results.meta = describeRun(started, loadStart);
  writeResults(results);
}

function progressLine(label, conns, r) {
  const rps = Math.round(r.rps).toLocaleString('en-US').padStart(10);
  const others = r.othersCpuPercent === undefined ? '' : `  others ${Math.round(r.othersCpuPercent)}% CPU`;
  const errors = r.socketErrors + r.non2xx > 0 ? `  ERRORS ${r.socketErrors}/${r.non2xx}` : '';
  return `${label.padEnd(28)} c=${String(conns).padEnd(4)} ${rps} req/s  p99 ${r.p99.toFixed(2)} ms${others}${errors}`;
}

/**
 * CPU used during a measurement: `server` and `redis` from /proc/<pid>/stat, the machine from /proc/stat.
 * The returned function turns the deltas into percentages of one core; "others" is the machine's busy
 * time minus every process of the bench, i.e. the other jobs that competed with this measurement. Without
 * the load generator's own CPU (redis-benchmark), only the server CPU can be metered, and only when pinned.
 */
function cpuMeter(redis, serverPid, { serverCpuOnly } = {}) {
  const before = {
    server: serverPid === undefined ? 0 : cpuSeconds(serverPid),
    redis: cpuSeconds(redis.process.pid),
    machine: machineBusySeconds(serverCpuOnly),
  };
  return (seconds, { load, server } = {}) => {
    const serverSeconds = server ?? (serverPid === undefined ? 0 : cpuSeconds(serverPid) - before.server);
    const redisSeconds = cpuSeconds(redis.process.pid) - before.redis;
    const busy = machineBusySeconds(serverCpuOnly) - before.machine;
    const others = busy - serverSeconds - redisSeconds - (load ?? 0);
    const metered = load !== undefined || serverCpuOnly !== undefined;
    return {
      serverSeconds,
      redisCpuPercent: (redisSeconds / seconds) * 100,
      loadCpuPercent: load === undefined ? undefined : (load / seconds) * 100,
      othersCpuPercent: metered ? (others / seconds) * 100 : undefined,
    };
  };
}

/** One round of one scenario: every connection count, against a fresh server process. */
async function measureScenario(scenario, redis, cpu, redisBenchmarkSize) {
  const out = {};
  if (scenario.kind === 'redis-benchmark') {
    for (const conns of options.connections) {
      const bench = { port: redis.port, connections: conns, pipeline: scenario.pipeline, cpu: cpu.load };
      const key = `${scenario.pipeline}/${conns}`;
      if (!redisBenchmarkSize.has(key)) {
        // A short calibration run sizes -n for about --duration seconds.
        const probe = await runRedisBenchmark({ ...bench, requests: 20_000 * scenario.pipeline });
        redisBenchmarkSize.set(key, Math.max(10_000, Math.round(probe.rps * options.duration)));
      }
      const meter = cpuMeter(redis, undefined, { serverCpuOnly: cpu.server });
      const r = await runRedisBenchmark({ ...bench, requests: redisBenchmarkSize.get(key) });
      const { serverSeconds, ...usage } = meter(r.seconds);
      out[conns] = { ...r, cps: r.rps, ...usage };
    }
    return out;
  }
  if (scenario.kind === 'client-loop') {
    const warmup = Math.max(1, options.warmup);
    for (const conns of options.connections) {
      const meter = cpuMeter(redis);
      const stdout = await run(process.execPath, [join(BENCH, 'reference/redis-client-loop.mjs')], {
        cpu: cpu.server,
        env: {
          REDIS_URL: redis.url,
          CONCURRENCY: String(conns),
          SECONDS: String(options.duration),
          WARMUP: String(warmup),
        },
      });
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (line === undefined) throw new Error(`redis-client-loop printed no result:\n${stdout}`);
      const r = JSON.parse(line.slice('BENCH_RESULT '.length));
      // Redis and the machine are metered over warm-up and measurement; the loop meters only the latter.
      const window = r.seconds + warmup;
      const { serverSeconds, ...usage } = meter(window, {
        load: 0,
        server: r.cpuSeconds * (window / r.seconds),
      });
      out[conns] = {
        ...r,
        cps: r.rps,
        ...usage,
        loadCpuPercent: undefined,
        serverCpuPercent: (r.cpuSeconds / r.seconds) * 100,
        serverCpuUsPerRequest: (r.cpuSeconds / r.requests) * 1e6,
      };
    }
    return out;
  }

  const server = await startServer(scenario, redis, cpu);
  try {
    if (scenario.probe) await probe(server.url, scenario.probe);
    const rssIdle = rssBytes(server.proc.pid);
    const load = {
      url: server.url,
      script: scenario.script,
      threads: options.threads,
      cpu: cpu.load,
      env: { BENCH_TOKEN: token, ...scenario.env },
    };
    if (options.warmup > 0)
      await runWrk({ ...load, connections: Math.min(...options.connections), seconds: options.warmup });
    for (const conns of options.connections) {
      const meter = cpuMeter(redis, server.proc.pid);
      const r = await runWrk({ ...load, connections: conns, seconds: options.duration });
      const { serverSeconds, ...usage } = meter(r.seconds, { load: r.loadCpuSeconds });
      out[conns] = {
        ...r,
        cps: r.rps * (scenario.commandsPerRequest ?? 1),
        rssIdle,
        rss: rssBytes(server.proc.pid),
        serverCpuPercent: (serverSeconds / r.seconds) * 100,
        serverCpuUsPerRequest: (serverSeconds / r.requests) * 1e6,
        ...usage,
      };
    }
  } finally {
    const exit = await server.proc.stop();
    if (exit.code !== 0 && scenario.kind === 'gateway')
      console.warn(`gateway exited with ${exit.code ?? exit.signal}; log: ${server.proc.logFile}`);
  }
  return out;
}

/**
 * The gateway (`kind: gateway`; the baseline build for a `-before` clone) or a reference server, on a free
 * port, ready.
 */
async function startServer(scenario, redis, cpu, { nodeFlags = [] } = {}) {
  const port = await freePort();
  const url = `${scenario.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  if (scenario.kind === 'responder') {
    const proc = startProcess({
      command: process.execPath,
      args: [join(BENCH, scenario.file ?? 'reference/http-responder.mjs')],
      // The minimal gateway serves the bench's Redis behind the bench's token.
      env: { PORT: String(port), ...(scenario.redis && { REDIS_URL: redis.url, TOKEN: token }) },
      cpu: cpu.server,
      logFile: join(WORK, 'responder.log'),
    });
    await waitForHttp(`${url}${scenario.ready ?? ''}`, proc);
    return { proc, url };
  }
  const proc = startProcess({
    command: process.execPath,
    args: [...nodeFlags, scenario.main ?? gatewayMain],
    cpu: cpu.server,
    logFile: join(WORK, `gateway-${scenario.id}.log`),
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      CACHEGATE_TOKEN: token,
      CACHEGATE_LOG_LEVEL: 'warn',
      CACHEGATE_WORKERS: String(scenario.workers ?? 1),
      NODE_ENV: 'production',
      ...(scenario.tls && { CACHEGATE_TLS_CERT: certificate.cert, CACHEGATE_TLS_KEY: certificate.key }),
      ...scenario.gatewayEnv,
    },
    // Settings of the shell that runs the bench (a rate limit, a metrics port) must not leak in.
    dropEnv: /^(CACHEGATE_|REDIS_)/,
  });
  await waitForHttp(`${url}/readyz`, proc);
  return { proc, url };
}

/** One request of the scenario, checked: a 200 whose body holds the expected value. */
async function probe(baseUrl, { method, path, body, expect }) {
  const { status, text } = await httpRequest(`${baseUrl}${path}`, {
    method,
    body,
    headers: { ...authHeaders, 'content-type': 'application/json' },
  });
  if (status !== 200 || !text.includes(expect)) {
    throw new Error(`probe ${method} ${path} answered ${status}: ${text.slice(0, 300)}`);
  }
}

/** A self-signed certificate for 127.0.0.1 in bench/.work/tls/, valid for a day: one per run. */
function makeCertificate() {
  const dir = join(WORK, 'tls');
  mkdirSync(dir, { recursive: true });
  const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'];
  const r = spawnSync('openssl', [...args, '-keyout', files.key, '-out', files.cert], { encoding: 'utf8' });
  if (r.status !== 0) fail(`openssl could not make the HTTPS scenarios' certificate: ${r.error ?? r.stderr}`);
  return files;
}

async function startBenchRedis() {
  const dir = join(WORK, 'redis');
  rmSync(dir, { recursive: true, force: true });
  const redis = await startRedisServer({ dir, config: ['appendonly no', 'save ""'] });
  track(redis.process);
  if (options.pinned) pinProcess(redis.process.pid, SERVER_CPU);
  const { createClient } = await import('@redis/client');
  const client = createClient({ url: redis.url });
  await client.connect();
  for (const [key, value] of Object.entries(SEED)) await client.set(key, value);
  await client.close();
  return redis;
}

async function profile() {
  const dir = join(BENCH, 'profiles');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  // GET via POST / unless --only names another gateway scenario.
  const id = options.only?.[0] ?? 'get-post';
  // One process: with node:cluster each worker would write its own profile under the same name.
  const scenario = SCENARIOS.find((s) => s.id === id && s.kind === 'gateway');
  if (scenario === undefined) fail(`--profile needs a single-process gateway scenario, not ${id}`);
  const conns = Math.min(...options.connections);
  if (scenario.tls) certificate = makeCertificate();
  const redis = await startBenchRedis();
  const cpu = cpus(false);
  let proc;
  let window;
  try {
    const server = await startServer(scenario, redis, cpu, {
      nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${id}-${stamp}.cpuprofile`],
    });
    proc = server.proc;
    await probe(server.url, scenario.probe);
    console.log(
      `profiling ${scenario.label} at ${conns} connections for ${options.warmup + options.duration} s (${options.pinned ? 'pinned' : 'unpinned'})`,
    );
    const load = {
      url: server.url,
      script: scenario.script,
      threads: options.threads,
      cpu: cpu.load,
      env: { BENCH_TOKEN: token, ...scenario.env },
    };
    if (options.warmup > 0) await runWrk({ ...load, connections: conns, seconds: options.warmup });
    const from = Number(process.hrtime.bigint() / 1000n);
    const r = await runWrk({ ...load, connections: conns, seconds: options.duration });
    window = { from, to: Number(process.hrtime.bigint() / 1000n), requests: r.requests };
    console.log(
      `${Math.round(r.rps)} req/s under the profiler (slower than without), p99 ${r.p99.toFixed(2)} ms`,
    );
  } finally {
    // The profile is written when the gateway exits after SIGTERM.
    await proc?.stop(30_000);
    await redis.stop();
  }
  const file = join(dir, `${id}-${stamp}.cpuprofile`);
  if (!existsSync(file)) fail(`no profile at ${file}; gateway log: ${proc?.logFile}`);
  const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), ROOT, window);
  const report = formatProfile(summary, 25, { requests: summary.windowed ? window?.requests : undefined });
  writeFileSync(file.replace(/\.cpuprofile$/, '.top.txt'), report);
  console.log(`\n${file}\n\n${report}`);
}

/** The commit and the build the run measures, taken when it starts. */
function describeBuild() {
  const git = (...args) => spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' }).stdout.trim();
  const dirty = git('status', '--porcelain', 'packages');
  return {
    git: `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' (packages/ modified)' : ''}`,
    gatewayBuiltAt: statSync(GATEWAY_MAIN).mtime.toISOString(),
  };
}

/** Copies packages/server/{dist,package.json} under bench/.work; node_modules resolve from the repo root. */
function snapshotGateway() {
  rmSync(SNAPSHOT, { recursive: true, force: true });
  cpSync(join(ROOT, 'packages/server/dist'), join(SNAPSHOT, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'packages/server/package.json'), join(SNAPSHOT, 'package.json'));
  return join(SNAPSHOT, 'dist/main.js');
}

function describeRun(started, loadStart) {
  const version = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout}${r.stderr}`.split('\n')[0].trim();
  };
  const now = new Date();
  return {
    date: now.toISOString().slice(0, 10),
    finishedAt: now.toISOString(),
    elapsedSeconds: (Date.now() - started) / 1000,
    quick: flags.quick,
    pinned: options.pinned,
    cpus: options.pinned ? { load: LOAD_CPU, server: SERVER_CPU } : undefined,
    runs: options.runs,
    duration: options.duration,
    warmup: options.warmup,
    threads: options.threads,
    connections: options.connections,
    maxOthersCpuPercent: options.maxOthers,
    retries: options.retries,
    baseline: options.baseline,
    loadAverage: { start: loadStart, end: os.loadavg()[0].toFixed(2) },
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim(),
      kernel: `${os.type()} ${os.release()}`,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    },
    versions: {
      node: process.versions.node,
      redis: version('redis-server', ['--version']).replace(/ sha=.*/, ''),
      wrk: version('wrk', ['-v']).replace(/ Copyright.*/, ''),
    },
    ...build,
  };
}

function writeResults(results) {
  const dir = flags.out;
  mkdirSync(dir, { recursive: true });
  const names = flags.quick ? ['quick'] : [results.meta.date, 'latest'];
  for (const name of names) {
    writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(dir, `${name}.svg`), renderSvg(results));
    writeFileSync(join(dir, `${name}.md`), renderMarkdown(results, { chartFile: `${name}.svg` }));
  }
  console.log(`\n${renderMarkdown(results)}`);
  console.log(`written: ${names.map((n) => join(dir, `${n}.{md,json,svg}`)).join(', ')}`);
}

function checkPrerequisites() {
  const missing = ['wrk', 'redis-benchmark', 'redis-server', ...(options.pinned ? ['taskset'] : [])].filter(
    (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0,
  );
  if (missing.length > 0) {
    fail(
      `missing: ${missing.join(', ')}. On Debian/Ubuntu: apt-get install -y wrk redis-server redis-tools util-linux`,
    );
  }
  if (!existsSync(GATEWAY_MAIN)) fail('packages/server/dist is missing: run `npm run build` first');
  if (options.pinned && os.availableParallelism() < 2) {
    console.warn('fewer than 2 CPUs: running unpinned');
    options.pinned = false;
  }
}

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(1);
}
