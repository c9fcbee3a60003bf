import { createReadStream, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { gatewayTarget } from '../warming/load/gateway-target.js';
import { FatalError, type Source, type Target } from '../warming/load/items.js';
import { type LoadSummary, load } from '../warming/load/loader.js';
import { ndjsonSource } from '../warming/load/ndjson-source.js';
import { openRedis } from '../warming/load/redis-endpoint.js';
import { redisSource } from '../warming/load/redis-source.js';
import { redisTarget } from '../warming/load/redis-target.js';
import { type CliIo, EXIT, UsageError } from './io.js';
import { count, duration, ProgressBar, perSecond } from './progress.js';

export const WARM_HELP = `Usage: cachegate warm --from <source> <destination> [options]

Loads entries into a cache: streaming (memory stays bounded whatever the input's size), in batches,
several at a time, at a rate you choose.

Sources (--from):
  <file.ndjson> | -        NDJSON lines {"key": "...", "value": <any JSON>, "ttl"?: seconds | null}, the cache
                           API's entry shape (what cachegate hot-keys prints); "-" reads stdin. Values are
                           stored as the cache API and the SDK store them (JSON text). Bad lines are reported
                           by line number and skipped; the rest is loaded.
  redis://[user:pass@]host:port[/db]
                           Every key of another Redis (SCAN, then DUMP and RESTORE: every type, TTLs kept).
    --match <pattern>      SCAN MATCH, e.g. 'user:*'
    --type <type>          SCAN TYPE: string, hash, list, set, zset, stream

Destinations (one):
  --url <gateway URL>      A cachegate gateway over HTTP (POST /v1/cache/import, or /pipeline on another
    --token <token>        Upstash-compatible server). Needs a write token (default: $CACHEGATE_TOKEN);
                           an admin token for a redis:// source (RESTORE is a @dangerous command).
  --redis-url <url>        A Redis directly, for operators; or, as the gateway takes them:
  --redis-sentinels <h:p,...> --redis-sentinel-master <name>
  --redis-cluster-nodes <h:p,...>
    --redis-password <pw>  (default: $CACHEGATE_REDIS_PASSWORD or $REDIS_PASSWORD)
    --redis-sentinel-password <pw>  --redis-tls  --redis-tls-ca <file>

Options:
  --only-missing           Never replace a key that exists (SET NX, RESTORE without REPLACE): skipped.
  --rate <entries/s>       At most this many entries per second, so live traffic keeps its share.
  --concurrency <n>        Batches in flight at once (default 4).
  --batch <n>              Lines or keys per batch (default 500; at most the gateway's CACHEGATE_MAX_PIPELINE).
  --resume-from <pos>      Start at this line (NDJSON) or SCAN cursor (redis://), as an interrupted run printed.
  --dry-run                Read and check everything, write nothing.
  -h, --help               This text.

Progress: a bar on a terminal (done, entries/s, ETA), a one-line summary at the end. Ctrl-C stops after the
batches in flight and prints the --resume-from that goes on.
Exit status: 0 all loaded or skipped; 1 some lines or entries failed; 2 usage or a stop (destination
unreachable, token refused); 130 interrupted.

Examples:
  cachegate hot-keys --url $URL --token $ADMIN_TOKEN > hot.ndjson
  cachegate warm --from hot.ndjson --url $URL --token $TOKEN --only-missing
  cachegate warm --from redis://prod-replica:6379 --match 'catalog:*' --redis-url redis://staging:6379
`;

/** At most this many problems are printed one by one; the rest are counted. */
const MAX_PRINTED_PROBLEMS = 100;

const OPTIONS = {
  from: { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
  'redis-url': { type: 'string' },
  'redis-password': { type: 'string' },
  'redis-sentinels': { type: 'string' },
  'redis-sentinel-master': { type: 'string' },
  'redis-sentinel-password': { type: 'string' },
  'redis-cluster-nodes': { type: 'string' },
  'redis-tls': { type: 'boolean', default: false },
  'redis-tls-ca': { type: 'string' },
  match: { type: 'string' },
  type: { type: 'string' },
  'only-missing': { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  rate: { type: 'string' },
  concurrency: { type: 'string', default: '4' },
  batch: { type: 'string', default: '500' },
  'resume-from': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** `cachegate warm`: see {@link WARM_HELP}. Resolves with the exit status. */
export async function runWarm(args: string[], io: CliIo): Promise<number> {
  const { values: flags } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
  if (flags.help) {
    io.stdout.write(WARM_HELP);
    return EXIT.ok;
  }
  const from = flags.from;
  if (from === undefined)
    throw new UsageError('--from is required (a .ndjson file, - for stdin, or redis://...)');
  const isRedisSource = /^rediss?:\/\//.test(from);
  const concurrency = whole(flags.concurrency, '--concurrency', 1, 256);
  const batchSize = whole(flags.batch, '--batch', 1, 100_000);
  const rate = flags.rate === undefined ? undefined : positive(flags.rate, '--rate');
  if (!isRedisSource && (flags.match !== undefined || flags.type !== undefined)) {
    throw new UsageError('--match and --type apply to a redis:// source');
  }
  const resumeFrom = flags['resume-from'];
  if (resumeFrom !== undefined && !/^\d+$/.test(resumeFrom)) {
    throw new UsageError('--resume-from takes a line number (NDJSON) or a SCAN cursor (redis://)');
  }
  const redisSettings = destinationRedis(flags, io.env);
  if (flags.url !== undefined && redisSettings !== undefined) {
    throw new UsageError(
      'choose one destination: --url (a gateway) or --redis-url/--redis-sentinels/--redis-cluster-nodes',
    );
  }
  if (flags.url === undefined && redisSettings === undefined && !flags['dry-run']) {
    throw new UsageError(
      'a destination is required: --url <gateway> or --redis-url <redis://...> (or --dry-run)',
    );
  }
  const token = flags.token ?? io.env.CACHEGATE_TOKEN;
  if (flags.url !== undefined && (token === undefined || token === '')) {
    throw new UsageError('--url needs --token (or CACHEGATE_TOKEN in the environment)');
  }

  let source: Source | undefined;
  let target: Target | undefined;
  const bar = new ProgressBar(io.stderr, io.isTerminal);
  try {
    source = isRedisSource
      ? redisSource({
          redis: await openRedis({ CACHEGATE_REDIS_URL: from }, `the source ${redact(from)}`),
          match: flags.match,
          type: flags.type,
          resumeFrom,
        })
      : ndjsonSource({
          ...ndjsonInput(from, io, resumeFrom === undefined ? 1 : Number(resumeFrom)),
          // A gateway checks and parses the lines itself (POST /v1/cache/import): sent as read.
          raw: flags.url !== undefined && !flags['dry-run'],
        });
    if (!flags['dry-run']) {
      target =
        flags.url !== undefined
          ? gatewayTarget({ url: flags.url, token: token as string })
          : redisTarget(await openRedis(redisSettings ?? {}, 'the destination Redis'));
    }
    let printed = 0;
    let unprinted = 0;
    const summary = await load(source, target, {
      batchSize,
      concurrency,
      rate,
      onlyMissing: flags['only-missing'],
      dryRun: flags['dry-run'],
      signal: io.signal,
      onProblem: ({ where, reason }) => {
        if (printed++ < MAX_PRINTED_PROBLEMS) bar.print(`cachegate warm: ${where}: ${reason}`);
        else unprinted++;
      },
      onProgress: (progress) => bar.update(progress),
    });
    bar.stop();
    if (unprinted > 0) io.stderr.write(`cachegate warm: ${count(unprinted)} more problems not shown\n`);
    io.stdout.write(
      `${summaryLine(summary, { dryRun: flags['dry-run'], isRedis: isRedisSource, resumeFrom })}\n`,
    );
    if (summary.stoppedBy !== undefined) {
      io.stderr.write(`cachegate warm: stopped: ${summary.stoppedBy.message}\n`);
      return EXIT.stopped;
    }
    if (summary.interrupted) return EXIT.interrupted;
    return summary.failed + summary.rejected > 0 ? EXIT.someFailed : EXIT.ok;
  } catch (error) {
    bar.stop();
    if (error instanceof FatalError) {
      io.stderr.write(`cachegate warm: ${error.message}\n`);
      return EXIT.stopped;
    }
    throw error;
  } finally {
    await Promise.all([source?.close(), target?.close()]);
  }
}

/** `warm: 10,000 entries: 9,990 loaded, 5 skipped, 5 failed (3 bad lines) in 1.2 s (8,130 entries/s)`. */
function summaryLine(
  summary: LoadSummary,
  context: { dryRun: boolean; isRedis: boolean; resumeFrom: string | undefined },
): string {
  const unit = context.isRedis ? 'keys' : 'entries';
  const bad =
    summary.rejected > 0
      ? ` (${count(summary.rejected)} ${context.isRedis ? 'unreadable keys' : 'bad lines'})`
      : '';
  const counts = context.dryRun
    ? `${count(summary.loaded)} would be written, ${count(summary.failed + summary.rejected)} failed${bad}`
    : `${count(summary.loaded)} loaded, ${count(summary.skipped)} skipped, ${count(summary.failed + summary.rejected)} failed${bad}`;
  const took = `in ${(summary.elapsedMs / 1000).toFixed(1)} s (${count(perSecond(summary))} ${unit}/s)`;
  const head = `warm${context.dryRun ? ' (dry run)' : ''}: ${count(summary.done)} ${unit}: ${counts} ${took}`;
  if (!summary.interrupted) return head;
  const position = summary.resumeFrom ?? context.resumeFrom ?? (context.isRedis ? '0' : '1');
  const where = context.isRedis ? `SCAN cursor ${position}` : `line ${position}`;
  return `${head}; stopped before ${where} after ${duration(summary.elapsedMs)}: go on with --resume-from ${position}`;
}

/** The NDJSON input: stdin for `-`, else the file (its size gives the progress bar an end). */
function ndjsonInput(from: string, io: CliIo, resumeFrom: number) {
  if (from === '-') return { input: io.stdin, resumeFrom };
  let size: number;
  try {
    size = statSync(from).size;
  } catch (error) {
    throw new FatalError(
      `cannot read ${from}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return { input: createReadStream(from, { highWaterMark: 256 * 1024 }), totalBytes: size, resumeFrom };
}

/** The destination Redis in the gateway's variables, or undefined when none is given. */
function destinationRedis(
  flags: Record<string, string | boolean | undefined>,
  env: Record<string, string | undefined>,
): Record<string, string | undefined> | undefined {
  const text = (name: string) => flags[name] as string | undefined;
  if (
    [text('redis-url'), text('redis-sentinels'), text('redis-cluster-nodes')].every((v) => v === undefined)
  ) {
    return undefined;
  }
  return {
    CACHEGATE_REDIS_URL: text('redis-url'),
    CACHEGATE_REDIS_SENTINELS: text('redis-sentinels'),
    CACHEGATE_REDIS_SENTINEL_MASTER: text('redis-sentinel-master'),
    CACHEGATE_REDIS_CLUSTER_NODES: text('redis-cluster-nodes'),
    CACHEGATE_REDIS_PASSWORD: text('redis-password') ?? env.CACHEGATE_REDIS_PASSWORD ?? env.REDIS_PASSWORD,
    CACHEGATE_REDIS_SENTINEL_PASSWORD:
      text('redis-sentinel-password') ?? env.CACHEGATE_REDIS_SENTINEL_PASSWORD,
    CACHEGATE_REDIS_TLS: flags['redis-tls'] === true ? 'true' : undefined,
    CACHEGATE_REDIS_TLS_CA: text('redis-tls-ca'),
  };
}

function whole(text: string, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max)
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`);
  return value;
}

function positive(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${flag} must be a number above 0`);
  return value;
}

/** A Redis URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
