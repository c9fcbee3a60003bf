// Read throughput with CACHEGATE_READ_FROM=replicas against the primary alone (issue 25, decision 0021).
//
//   npm run build && node bench/replicas.mjs [--runs 3] [--duration 5] [--connections 50]
//
// Starts a primary and two replicas (redis-server, no persistence), then, for each read below, a gateway
// reading from the primary alone and one reading from the replicas, alternately, and drives each with wrk.
// Prints requests/s, the ratio, and the CPU each process used, which says what limited the run: on a
// 2-core machine the gateway, wrk and Redis share the cores, so replicas help only where Redis is the limit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runWrk } from './lib/load.mjs';
import { cpuSeconds, killAll, machineBusySeconds, startProcess, waitForHttp } from './lib/procs.mjs';
import { median } from './lib/stats.mjs';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string', default: '' },
  },
});
const EMBEDDED = new URL('../packages/server/dist/redis/embedded.js', import.meta.url);
const MAIN = new URL('../packages/server/dist/main.js', import.meta.url).pathname;
const { startRedisServer, freePort } = await import(EMBEDDED);
const TOKEN = 'bench-replicas-token-0123456789';
/** Members of the small and the large sets that SINTERCARD intersects. */
const SMALL = 2000;
const LARGE = 20_000;

/** What is read: a light command (the gateway is the limit) and one that costs Redis more than the gateway. */
const READS = [
  { id: 'get', label: 'GET 100 B', body: '["GET","bench:v100"]' },
  {
    id: 'sintercard',
    label: `SINTERCARD of two ${SMALL}-member sets`,
    body: '["SINTERCARD","2","{b}s1","{b}s2"]',
  },
  {
    id: 'sintercard-large',
    label: `SINTERCARD of two ${LARGE}-member sets (Redis is the limit)`,
    body: '["SINTERCARD","2","{b}l1","{b}l2"]',
  },
];

process.on('exit', killAll);
const dir = mkdtempSync(join(tmpdir(), 'cachegate-bench-replicas-'));
const base = ['appendonly no', 'save ""', 'repl-diskless-sync-delay 0'];
const primary = await startRedisServer({ dir: join(dir, 'primary'), config: base });
const replicas = await Promise.all(
  [0, 1].map((i) =>
    startRedisServer({
      dir: join(dir, `replica-${i}`),
      config: [...base, `replicaof 127.0.0.1 ${primary.port}`],
    }),
  ),
);
await seed();

const results = [];
const selected = flags.only === '' ? READS : READS.filter((read) => flags.only.split(',').includes(read.id));
for (const read of selected) {
  const runs = { primary: [], replicas: [] };
  for (let run = 0; run < Number(flags.runs); run++) {
    // Alternate which mode goes first, so a drift in the machine's load biases neither.
    const modes = run % 2 === 0 ? ['primary', 'replicas'] : ['replicas', 'primary'];
    for (const mode of modes) runs[mode].push(await measure(mode, read));
  }
  const rps = (mode) => median(runs[mode].map((r) => r.rps));
  const us = (mode) => median(runs[mode].map((r) => r.usPerRequest));
  results.push({ read, primary: rps('primary'), replicas: rps('replicas'), us, runs });
}
for (const { read, primary: p, replicas: r, us, runs } of results) {
  console.log(
    `\n${read.label}, ${flags.connections} connections, median of ${flags.runs} x ${flags.duration} s:`,
  );
  console.log(
    `  primary alone: ${Math.round(p)} req/s   replicas: ${Math.round(r)} req/s   ratio ${(r / p).toFixed(2)}`,
  );
  console.log(
    `  gateway CPU per request: primary alone ${us('primary').toFixed(1)} µs, replicas ${us('replicas').toFixed(1)} µs`,
  );
  for (const mode of ['primary', 'replicas']) {
    const cpu = runs[mode].at(-1).cpu;
    const shown = Object.entries(cpu).map(([name, percent]) => `${name} ${Math.round(percent)} %`);
    console.log(`  CPU (${mode}, last run, % of one core): ${shown.join(', ')}`);
  }
}
await Promise.all([primary, ...replicas].map((server) => server.stop()));
rmSync(dir, { recursive: true, force: true });

async function seed() {
  const { createClient } = await import('@redis/client');
  const client = createClient({ url: primary.url });
  await client.connect();
  await client.set('bench:v100', 'a'.repeat(100));
  const members = (prefix, count) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  for (const [name, count] of [
    ['s', SMALL],
    ['l', LARGE],
  ]) {
    await client.sAdd(`{b}${name}1`, members('m', count));
    const half = members('m', count).slice(0, count / 2);
    await client.sAdd(`{b}${name}2`, [...half, ...members('n', count / 2)]);
  }
  await client.sendCommand(['WAIT', '2', '5000']);
  await client.quit();
}

/** One gateway in `mode`, warmed up, then measured; CPU of the gateway, wrk and each Redis in % of a core. */
async function measure(mode, read) {
  const port = await freePort();
  const gateway = startProcess({
    command: process.execPath,
    args: [MAIN],
    logFile: join(dir, `gateway-${mode}.log`),
    dropEnv: /^(CACHEGATE_|REDIS_)/,
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      CACHEGATE_LOG_LEVEL: 'warn',
      CACHEGATE_REDIS_URL: primary.url,
      CACHEGATE_TOKEN: TOKEN,
      CACHEGATE_MAX_EVENT_LOOP_DELAY_MS: '0',
      ...(mode === 'replicas'
        ? {
            CACHEGATE_READ_FROM: 'replicas',
            CACHEGATE_REDIS_REPLICAS: replicas.map((replica) => `127.0.0.1:${replica.port}`).join(','),
          }
        : {}),
    },
  });
  try {
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, gateway);
    // Replicas are usable once they answered ROLE: let the first polls land.
    await new Promise((done) => setTimeout(done, 500));
    const load = {
      url: `http://127.0.0.1:${port}`,
      script: 'body.lua',
      threads: 1,
      env: { BENCH_TOKEN: TOKEN, BENCH_BODY: read.body },
    };
    await runWrk({ ...load, connections: Number(flags.connections), seconds: 1 });
    const processes = { gateway: gateway.pid, primary: primary.process.pid };
    replicas.forEach((replica, i) => {
      processes[`replica ${i}`] = replica.process.pid;
    });
    const before = Object.fromEntries(
      Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]),
    );
    const busyBefore = machineBusySeconds();
    const r = await runWrk({
      ...load,
      connections: Number(flags.connections),
      seconds: Number(flags.duration),
    });
    if (r.non2xx > 0 || r.socketErrors > 0)
      throw new Error(`${mode} ${read.id}: errors ${JSON.stringify(r)}`);
    const cpu = Object.fromEntries(
      Object.entries(processes).map(([name, pid]) => [
        name,
        ((cpuSeconds(pid) - before[name]) / r.seconds) * 100,
      ]),
    );
    cpu.wrk = ((r.loadCpuSeconds ?? 0) / r.seconds) * 100;
    // Everything else the machine ran meanwhile: on a shared machine other jobs take cores too.
    const ours = Object.values(cpu).reduce((total, percent) => total + percent, 0);
    cpu.others = Math.max(0, ((machineBusySeconds() - busyBefore) / r.seconds) * 100 - ours);
    // The gateway's CPU time per request: the least noisy number on a shared machine.
    const usPerRequest = ((cpu.gateway / 100) * r.seconds * 1e6) / r.requests;
    return { rps: r.rps, cpu, usPerRequest };
  } finally {
    await gateway.stop();
  }
}
