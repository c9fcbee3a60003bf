// The load generators: wrk (HTTP scenarios and the node:http responder) and redis-benchmark.
import { fileURLToPath } from 'node:url';
import { CLOCK_TICKS, run } from './procs.mjs';

const WRK_DIR = fileURLToPath(new URL('../wrk/', import.meta.url));

/**
 * Runs wrk with a scenario script and returns its BENCH_RESULT line (printed by wrk/common.lua's done()),
 * as requests/s, latency percentiles in ms and error counts.
 */
export async function runWrk({ url, script, env = {}, connections, seconds, threads, cpu }) {
  const args = [
    `-t${threads}`,
    `-c${connections}`,
    `-d${seconds}s`,
    '--latency',
    '-s',
    `${WRK_DIR}${script}`,
    url,
  ];
  const stdout = await run('wrk', args, { cpu, env: { BENCH_WRK_DIR: WRK_DIR, ...env } });
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (line === undefined) throw new Error(`wrk printed no BENCH_RESULT line:\n${stdout}`);
  const r = JSON.parse(line.slice('BENCH_RESULT '.length));
  const seconds_ = r.duration_us / 1e6;
  return {
    requests: r.requests,
    rps: r.requests / seconds_,
    p50: r.p50_us / 1000,
    p90: r.p90_us / 1000,
    p99: r.p99_us / 1000,
    max: r.max_us / 1000,
    socketErrors: r.connect + r.read + r.write + r.timeout,
    non2xx: r.status,
    seconds: seconds_,
    loadCpuSeconds: r.cpu_ticks >= 0 ? r.cpu_ticks / CLOCK_TICKS : undefined,
  };
}

/**
 * `redis-benchmark -t get` at `connections` and pipeline depth `pipeline`, one thread. Without -r the
 * GET key is the literal `key:__rand_int__`, which the runner seeds with the 100 B value.
 * Returns commands/s and latency percentiles (ms) from the CSV line.
 */
export async function runRedisBenchmark({ port, connections, pipeline, requests, cpu }) {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', 'get', '-c', String(connections)];
  args.push('-P', String(pipeline), '-n', String(requests), '-d', '100', '--csv');
  const started = process.hrtime.bigint();
  const stdout = await run('redis-benchmark', args, { cpu });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const lines = stdout.trim().split('\n');
  const header = parseCsvLine(lines.find((l) => l.startsWith('"test"')) ?? '');
  const row = parseCsvLine(lines.find((l) => l.startsWith('"GET"')) ?? '');
  const field = (name) => Number(row[header.indexOf(name)]);
  if (!row.length || !Number.isFinite(field('rps')))
    throw new Error(`unexpected redis-benchmark output:\n${stdout}`);
  return {
    requests,
    rps: field('rps'),
    p50: field('p50_latency_ms'),
    p99: field('p99_latency_ms'),
    max: field('max_latency_ms'),
    socketErrors: 0,
    non2xx: 0,
    seconds,
  };
}

function parseCsvLine(line) {
  return line.split(',').map((cell) => cell.replace(/^"|"$/g, ''));
}
