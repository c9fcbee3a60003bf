// The driver alone: one node-redis client (@redis/client, the gateway's driver) with CONCURRENCY GETs of
// the 100 B value always in flight, sent with sendCommand() as the gateway sends them (client.get() adds
// reply typing that costs about twice the CPU per command). node-redis writes what was queued in one
// event-loop turn together, so this is a pipelined loop, as in the gateway.
// Prints "BENCH_RESULT {json}" with commands/s, latency in ms and the CPU it used.
// Usage: REDIS_URL=... CONCURRENCY=50 SECONDS=5 WARMUP=1 node bench/reference/redis-client-loop.mjs
import { createHistogram } from 'node:perf_hooks';
import { createClient } from '@redis/client';

const concurrency = Number(process.env.CONCURRENCY ?? 50);
const seconds = Number(process.env.SECONDS ?? 5);
const warmup = Number(process.env.WARMUP ?? 1);
const command = ['GET', process.env.BENCH_KEY ?? 'bench:v100'];

const client = createClient({ url: process.env.REDIS_URL });
client.on('error', (error) => {
  console.error(error);
  process.exit(1);
});
await client.connect();

let measuring = false;
let stopping = false;
let completed = 0;
let errors = 0;
const histogram = createHistogram();

async function worker() {
  while (!stopping) {
    const started = process.hrtime.bigint();
    try {
      await client.sendCommand(command);
      if (measuring) {
        histogram.record(process.hrtime.bigint() - started);
        completed++;
      }
    } catch {
      errors++;
    }
  }
}

const workers = Array.from({ length: concurrency }, worker);
await new Promise((done) => setTimeout(done, warmup * 1000));
measuring = true;
const started = process.hrtime.bigint();
const cpuBefore = process.cpuUsage();
await new Promise((done) => setTimeout(done, seconds * 1000));
measuring = false;
const cpu = process.cpuUsage(cpuBefore);
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
stopping = true;
await Promise.all(workers);
await client.close();
const ms = (ns) => Number(ns) / 1e6;
const result = {
  requests: completed,
  rps: completed / elapsed,
  p50: ms(histogram.percentile(50)),
  p99: ms(histogram.percentile(99)),
  max: ms(histogram.max),
  socketErrors: errors,
  non2xx: 0,
  seconds: elapsed,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  rss: process.memoryUsage.rss(),
};
console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
