#!/usr/bin/env node
// node bench/warm.mjs [--quick]: the cache-warming targets of issue 23, as ratios measured in one run.
// See bench/README.md ("Cache warming"). Needs a build (npm run build), redis-server and redis-cli.
import { spawn } from 'node:child_process';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CLOCK_TICKS, killAll, run, sleep, startProcess, track, waitForHttp } from './lib/procs.mjs';
import { median } from './lib/stats.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const WORK = join(ROOT, 'bench', '.work', 'warm');
const MAIN = join(ROOT, 'packages/server/dist/main.js');
const { startRedisServer, freePort } = await import(join(ROOT, 'packages/server/dist/redis/embedded.js'));

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    entries: { type: 'string' },
    'rss-mb': { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(`Usage: node bench/warm.mjs [--quick] [--rounds N] [--entries N] [--rss-mb MB] [--out DIR]

  --rounds N     rounds of the throughput comparisons, alternating, medians reported (default 3; quick 1)
  --entries N    entries of the throughput comparisons (default 200000; quick 50000)
  --rss-mb MB    size of the NDJSON input of the memory run (default 2000, ten times the 200 MB target; quick 200)
  --quick        a smoke run; results to bench/results/quick-warming.* (gitignored)`);
  process.exit(0);
}
const rounds = Number(flags.rounds) > 0 && !flags.quick ? Number(flags.rounds) : 1;
const ENTRIES = Number(flags.entries ?? (flags.quick ? 50_000 : 200_000));
const RSS_INPUT_MB = Number(flags['rss-mb'] ?? (flags.quick ? 200 : 2000));
const TOKEN = 'bench-write-token-0123456789';
const ADMIN = 'bench-admin-token-0123456789';
process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});

rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
const started = Date.now();
const loadBefore = os.loadavg()[0];

/** The value of entry `i`: a small product record, about 150 bytes of JSON. */
const productValue = (i) => ({
  id: i,
  name: `product ${i}`,
  price: (i % 997) / 10,
  tags: ['a', 'b'],
  text: 'x'.repeat(60),
});

/** The same entries as NDJSON (for warm) and as RESP `SET key value EX 3600` (for redis-cli --pipe). */
async function writeInputs(count) {
  const ndjson = createWriteStream(join(WORK, 'entries.ndjson'));
  const resp = createWriteStream(join(WORK, 'entries.resp'));
  const bulk = (s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  let a = '';
  let b = '';
  for (let i = 0; i < count; i++) {
    const key = `item:${i}`;
    const value = productValue(i);
    a += `${JSON.stringify({ key, value, ttl: 3600 })}\n`;
    b += `*5\r\n${bulk('SET')}${bulk(key)}${bulk(JSON.stringify(value))}${bulk('EX')}${bulk('3600')}`;
    if (a.length > 1 << 20 || i === count - 1) {
      if (!ndjson.write(a)) await new Promise((done) => ndjson.once('drain', done));
      if (!resp.write(b)) await new Promise((done) => resp.once('drain', done));
      a = '';
      b = '';
    }
  }
  await Promise.all([new Promise((done) => ndjson.end(done)), new Promise((done) => resp.end(done))]);
}

/** An NDJSON file of `megabytes`, 1 kB values, keys cycling over 50,000 (so Redis stays small). */
async function writeLargeInput(megabytes) {
  const path = join(WORK, 'large.ndjson');
  const out = createWriteStream(path);
  const filler = 'y'.repeat(1000);
  const target = megabytes * 1024 * 1024;
  let written = 0;
  let chunk = '';
  for (let i = 0; written < target; i++) {
    chunk += `${JSON.stringify({ key: `large:${i % 50_000}`, value: { i, filler }, ttl: 600 })}\n`;
    if (chunk.length > 1 << 20) {
      written += chunk.length;
      if (!out.write(chunk)) await new Promise((done) => out.once('drain', done));
      chunk = '';
    }
  }
  await new Promise((done) => out.end(done));
  return path;
}

/**
 * Runs a command to its end (under /usr/bin/time, for its CPU seconds); resolves with its wall time, CPU
 * time, stdout, and its peak RSS sampled every 50 ms.
 */
function timed(command, args, { stdin, env } = {}) {
  return new Promise((resolve, reject) => {
    const begin = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', 'CPU %U %S', command, ...args], {
      env: { ...process.env, ...env },
      stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    track(child);
    let stdout = '';
    let stderr = '';
    let peakRss = 0;
    const sample = setInterval(() => {
      // The command is /usr/bin/time's one child.
      for (const pid of childrenOf(child.pid)) {
        try {
          const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
          if (kb * 1024 > peakRss) peakRss = kb * 1024;
        } catch {
          // Exited between two samples.
        }
      }
    }, 50);
    if (stdin) createReadStream(stdin).pipe(child.stdin);
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      clearInterval(sample);
      const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
      const cpu = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
      const cpuSeconds = cpu ? Number(cpu[1]) + Number(cpu[2]) : Number.NaN;
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr || stdout}`));
      else resolve({ seconds, cpuSeconds, stdout, stderr, peakRss });
    });
  });
}

function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** CPU seconds a running process used so far (user + system). */
function cpuOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Keep-alive HTTP for the read runs. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function request(base, path, { method = 'GET', body, token = TOKEN } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      { method, agent, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          text += c;
        });
        res.once('end', () => resolve({ status: res.statusCode, text }));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

async function startGateway(redisUrl, env = {}) {
  const port = await freePort();
  const gateway = startProcess({
    command: process.execPath,
    args: [MAIN],
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      CACHEGATE_REDIS_URL: redisUrl,
      CACHEGATE_TOKEN: TOKEN,
      CACHEGATE_ADMIN_TOKEN: ADMIN,
      CACHEGATE_LOG_LEVEL: 'warn',
      CACHEGATE_MAX_EVENT_LOOP_DELAY_MS: '0',
      ...env,
    },
    logFile: join(WORK, `gateway-${port}.log`),
    dropEnv: /^(CACHEGATE_|REDIS_)/,
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/readyz`, gateway);
  return { ...gateway, base };
}

/** Near-cache hits and misses from /metrics. */
async function nearCounts(base) {
  const { text } = await request(base, '/metrics');
  const value = (name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    hits: value('cachegate_near_cache_hits_total'),
    misses: value('cachegate_near_cache_misses_total'),
  };
}

/** A Zipf(1) sampler over `n` keys, deterministic. */
function zipf(n, seed) {
  const weights = Array.from({ length: n }, (_, k) => 1 / (k + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative = [];
  let sum = 0;
  for (const w of weights) {
    sum += w / total;
    cumulative.push(sum);
  }
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  return () => {
    const r = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < r) lo = mid + 1;
      else hi = mid;
    }
    return `item:${lo}`;
  };
}

const perSecond = (count, seconds) => count / seconds;
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const results = {
  meta: {},
  pipe: [],
  warmHttp: [],
  /** CPU µs per entry of everything that worked on it: redis-cli and Redis; warm, the gateway and Redis. */
  pipeCpu: [],
  warmCpu: [],
  redisToRedis: [],
  redisToGateway: undefined,
  rss: undefined,
  nearCache: [],
};

try {
  console.log(`writing ${fmt(ENTRIES)} entries as NDJSON and RESP...`);
  await writeInputs(ENTRIES);
  const destination = await startRedisServer({
    dir: join(WORK, 'redis-a'),
    config: ['appendonly no', 'save ""'],
  });
  const source = await startRedisServer({ dir: join(WORK, 'redis-b'), config: ['appendonly no', 'save ""'] });
  for (const server of [destination, source]) if (server.process) track(server.process);
  const cli = (server, ...args) => run('redis-cli', ['-p', String(server.port), ...args]);
  const gateway = await startGateway(destination.url);

  // 1. NDJSON -> gateway over HTTP vs redis-cli --pipe of the same entries, alternating.
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['pipe', 'warm'] : ['warm', 'pipe'];
    for (const which of order) {
      await cli(destination, 'FLUSHALL');
      const redisCpu = cpuOf(destination.process.pid);
      const gatewayCpu = cpuOf(gateway.pid);
      if (which === 'pipe') {
        const r = await timed('redis-cli', ['-p', String(destination.port), '--pipe'], {
          stdin: join(WORK, 'entries.resp'),
        });
        results.pipe.push(perSecond(ENTRIES, r.seconds));
        const cpu = r.cpuSeconds + cpuOf(destination.process.pid) - redisCpu;
        results.pipeCpu.push((cpu * 1e6) / ENTRIES);
      } else {
        const r = await timed(process.execPath, [
          MAIN,
          'warm',
          '--from',
          join(WORK, 'entries.ndjson'),
          '--url',
          gateway.base,
          '--token',
          TOKEN,
        ]);
        results.warmHttp.push(perSecond(ENTRIES, r.seconds));
        const cpu =
          r.cpuSeconds + cpuOf(destination.process.pid) - redisCpu + cpuOf(gateway.pid) - gatewayCpu;
        results.warmCpu.push((cpu * 1e6) / ENTRIES);
      }
      const size = Number(await cli(destination, 'DBSIZE'));
      if (size !== ENTRIES) throw new Error(`${which}: ${size} keys instead of ${ENTRIES}`);
    }
    console.log(
      `round ${round + 1}: redis-cli --pipe ${fmt(results.pipe.at(-1))}/s, warm NDJSON -> gateway ${fmt(results.warmHttp.at(-1))}/s`,
    );
  }

  // 2. Redis -> Redis (DUMP/RESTORE), and Redis -> gateway (RESTORE by path form, one request per key).
  await cli(source, 'FLUSHALL');
  await timed('redis-cli', ['-p', String(source.port), '--pipe'], { stdin: join(WORK, 'entries.resp') });
  for (let round = 0; round < rounds; round++) {
    await cli(destination, 'FLUSHALL');
    const r = await timed(process.execPath, [
      MAIN,
      'warm',
      '--from',
      source.url,
      '--redis-url',
      destination.url,
    ]);
    results.redisToRedis.push(perSecond(ENTRIES, r.seconds));
    console.log(`round ${round + 1}: warm redis:// -> Redis ${fmt(results.redisToRedis.at(-1))} keys/s`);
  }
  {
    await cli(destination, 'FLUSHALL');
    const r = await timed(process.execPath, [
      MAIN,
      'warm',
      '--from',
      source.url,
      '--match',
      'item:1????',
      '--url',
      gateway.base,
      '--token',
      ADMIN,
    ]);
    const keys = Number(await cli(destination, 'DBSIZE'));
    results.redisToGateway = { keys, perSecond: perSecond(keys, r.seconds) };
    console.log(
      `warm redis:// -> gateway ${fmt(results.redisToGateway.perSecond)} keys/s (${fmt(keys)} keys)`,
    );
  }

  // 3. Memory: an NDJSON input ten times the RSS target, through the gateway.
  {
    console.log(`writing a ${RSS_INPUT_MB} MB NDJSON input...`);
    const large = await writeLargeInput(RSS_INPUT_MB);
    const bytes = statSync(large).size;
    await cli(destination, 'FLUSHALL');
    const r = await timed(process.execPath, [
      MAIN,
      'warm',
      '--from',
      large,
      '--url',
      gateway.base,
      '--token',
      TOKEN,
    ]);
    const lines = Number(/warm: ([\d,]+) entries/.exec(r.stdout)?.[1]?.replaceAll(',', ''));
    results.rss = { inputBytes: bytes, lines, peakRss: r.peakRss, seconds: r.seconds };
    rmSync(large, { force: true });
    console.log(
      `warm of ${fmt(bytes / 1048576)} MB: peak RSS ${fmt(r.peakRss / 1048576)} MB, ${r.seconds.toFixed(1)} s`,
    );
  }
  await gateway.stop();

  // 4. Near cache after a restart: the first 1,000 reads of the hot set, warm start on vs off.
  {
    await cli(destination, 'FLUSHALL');
    await timed('redis-cli', ['-p', String(destination.port), '--pipe'], {
      stdin: join(WORK, 'entries.resp'),
    });
    const hotSet = 5000;
    const near = { CACHEGATE_NEAR_CACHE: 'on' };
    const first = await startGateway(destination.url, near);
    const next = zipf(hotSet, 7);
    // Traffic before the restart: 30,000 reads of the hot set, 16 at a time.
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = 0; i < 30_000 / 16; i++) await request(first.base, `/get/${next()}`);
      }),
    );
    await first.stop();
    // Every restart starts from this saved hot set: a measured gateway saves its own when it stops.
    const savedValue = (await cli(destination, 'GET', 'cachegate:hot-set')).trim();
    if (!savedValue.startsWith('{')) throw new Error('the first gateway saved no hot set');
    let restart = 0;
    for (let round = 0; round < rounds; round++) {
      for (const warmStart of round % 2 === 0 ? [true, false] : [false, true]) {
        await cli(destination, 'SET', 'cachegate:hot-set', savedValue);
        restart++;
        const gatewayStarted = Date.now();
        const restarted = await startGateway(destination.url, {
          ...near,
          CACHEGATE_WARM_START_MS: warmStart ? '5000' : '0',
        });
        const readyMs = Date.now() - gatewayStarted;
        for (;;) {
          const health = JSON.parse((await request(restarted.base, '/health')).text);
          if (health.nearCache?.tracking === 'live') break;
          await sleep(20);
        }
        const before = await nearCounts(restarted.base);
        const reads = zipf(hotSet, 1000 + restart);
        for (let i = 0; i < 1000; i++) await request(restarted.base, `/get/${reads()}`);
        const after = await nearCounts(restarted.base);
        const hits = after.hits - before.hits;
        const misses = after.misses - before.misses;
        results.nearCache.push({ warmStart, hits, misses, ratio: hits / (hits + misses), readyMs });
        console.log(
          `round ${round + 1}: warm start ${warmStart ? 'on ' : 'off'}: hit ratio of the first 1,000 reads ${(hits / (hits + misses)).toFixed(3)}, ready after ${readyMs} ms`,
        );
        await restarted.stop();
      }
    }
  }
} finally {
  killAll();
  agent.destroy();
}

// Report.
const pipe = median(results.pipe);
const warmHttp = median(results.warmHttp);
const on = results.nearCache.filter((r) => r.warmStart);
const off = results.nearCache.filter((r) => !r.warmStart);
const ratioOn = median(on.map((r) => r.ratio));
const ratioOff = median(off.map((r) => r.ratio));
const date = new Date().toISOString().slice(0, 10);
const commit = (await run('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'])).trim();
const dirty = (await run('git', ['-C', ROOT, 'status', '--porcelain', 'packages'])).trim() !== '';
const redisVersion = (await run('redis-server', ['--version'])).trim().split(' ')[2];
results.meta = {
  date,
  commit,
  dirty,
  node: process.version,
  redis: redisVersion,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  loadAverage: [loadBefore, os.loadavg()[0]],
  entries: ENTRIES,
  rounds,
  seconds: Math.round((Date.now() - started) / 1000),
};
const status = (ok) => (ok ? '**met**' : 'missed');
const rssMb = results.rss.peakRss / 1048576;
const md = `# cachegate benchmark: cache warming, ${date}

- Machine: ${results.meta.cpus} × ${results.meta.cpuModel}; load average ${loadBefore.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end (a shared machine: other work ran too)
- Software: Node ${process.version}, Redis ${redisVersion}; cachegate ${commit}${dirty ? ' (packages/ modified)' : ''}
- Unpinned: the warm process, the gateway and Redis share the machine's cores, as a warm job beside a gateway would
- ${rounds} round(s), alternating order; medians. ${fmt(ENTRIES)} entries of about 150 B of JSON, \`ttl\` 3600; the gateway with its defaults (\`NODE_ENV=production\`, \`CACHEGATE_LOG_LEVEL=warn\`), Redis without persistence
- Times are wall-clock times of the whole command (process start included), so ratios compare what a user waits for
- Total time ${results.meta.seconds} s

## Targets (issue 23)

| Target | Measured | Rounds | Goal | Status |
| --- | ---: | --- | --- | --- |
| NDJSON → gateway over HTTP (\`cachegate warm --url\`) ÷ \`redis-cli --pipe\` of the same \`SET … EX\` (entries/s) | ${(warmHttp / pipe).toFixed(2)} | ${results.warmHttp.map((w, i) => (w / results.pipe[i]).toFixed(2)).join(', ')} | ≥ 0.25 | ${status(warmHttp / pipe >= 0.25)} |
| Peak RSS of \`cachegate warm\` over a ${fmt(results.rss.inputBytes / 1048576)} MB NDJSON input (${fmt(results.rss.lines)} lines) | ${fmt(rssMb)} MB | | < 200 MB | ${status(rssMb < 200)} |
| Near-cache hit ratio of the first 1,000 reads of the hot set after a restart, warm start on | ${ratioOn.toFixed(3)} | ${on.map((r) => r.ratio.toFixed(3)).join(', ')} | | |
| … warm start off (\`CACHEGATE_WARM_START_MS=0\`) | ${ratioOff.toFixed(3)} | ${off.map((r) => r.ratio.toFixed(3)).join(', ')} | | |
| On ÷ off | ${(ratioOn / ratioOff).toFixed(2)} | | | |

## Throughput

| What | Median | Rounds |
| --- | ---: | --- |
| \`redis-cli --pipe\` of a RESP file of \`SET key value EX 3600\` | ${fmt(pipe)} entries/s | ${results.pipe.map(fmt).join(', ')} |
| \`cachegate warm --from entries.ndjson --url <gateway>\` (write token, \`POST /v1/cache/import\` of 500 lines) | ${fmt(warmHttp)} entries/s | ${results.warmHttp.map(fmt).join(', ')} |
| \`cachegate warm --from redis://… --redis-url redis://…\` (SCAN, DUMP + PTTL, RESTORE) | ${fmt(median(results.redisToRedis))} keys/s | ${results.redisToRedis.map(fmt).join(', ')} |
| \`cachegate warm --from redis://… --url <gateway>\` (admin token, one \`POST /restore/…\` per key; ${fmt(results.redisToGateway.keys)} keys) | ${fmt(results.redisToGateway.perSecond)} keys/s | |
| \`cachegate warm\` of the ${fmt(results.rss.inputBytes / 1048576)} MB input through the gateway | ${fmt(results.rss.lines / results.rss.seconds)} entries/s | |

CPU time per entry, of every process that worked on it (load-independent, unlike entries/s): \`redis-cli\` and
Redis for the pipe, \`cachegate warm\`, the gateway and Redis for the warm.

| What | Median | Rounds |
| --- | ---: | --- |
| \`redis-cli --pipe\` | ${median(results.pipeCpu).toFixed(2)} µs/entry | ${results.pipeCpu.map((v) => v.toFixed(2)).join(', ')} |
| \`cachegate warm --url\` | ${median(results.warmCpu).toFixed(2)} µs/entry | ${results.warmCpu.map((v) => v.toFixed(2)).join(', ')} |
| Pipe ÷ warm, CPU per entry | ${(median(results.pipeCpu) / median(results.warmCpu)).toFixed(2)} | |

## Warm start

The hot set: 5,000 keys read with a Zipf(1) distribution, 30,000 reads before the restart; the gateway keeps
its 1,000 most read (\`CACHEGATE_HOT_KEYS\`) and saves them when it stops. After the restart, the first 1,000
reads follow the same distribution (new random draws each time), one at a time, once near-cache tracking is
live. Before each restart the hot set saved by the first gateway is put back, so that no measured gateway
warms from what the previous one read.

| Warm start | Hits | Misses | Hit ratio | Ready after (process start to \`/readyz\`) |
| --- | ---: | ---: | ---: | ---: |
${results.nearCache.map((r) => `| ${r.warmStart ? 'on' : 'off'} | ${r.hits} | ${r.misses} | ${r.ratio.toFixed(3)} | ${r.readyMs} ms |`).join('\n')}
`;
const out = flags.out;
mkdirSync(out, { recursive: true });
const name = flags.quick ? 'quick-warming' : `${date}-warming`;
writeFileSync(join(out, `${name}.md`), md);
writeFileSync(join(out, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
console.log(`\n${md}\nwritten to ${join(out, `${name}.md`)}`);
rmSync(WORK, { recursive: true, force: true });
process.exit(0);
