import { parseArgs } from 'node:util';
import { type CliIo, EXIT, UsageError } from './io.js';

export const HOT_KEYS_HELP = `Usage: cachegate hot-keys --url <gateway URL> --token <admin token> [--limit N]

Prints the keys the gateway's callers read most, most read first, as NDJSON entries {"key", "value",
"ttl"} (ttl in seconds, null without expiry): the input of cachegate warm. Only keys holding a string value
are printed; the others (hashes, lists... or keys gone since) are counted on stderr. The answer covers
every worker process of that gateway (CACHEGATE_WORKERS), for the token's database.

  --url <url>        The gateway.
  --token <token>    An admin token (default: $CACHEGATE_ADMIN_TOKEN).
  --limit <n>        How many keys (default 100; at most the gateway's CACHEGATE_HOT_KEYS).
  -h, --help         This text.

Before a migration or a planned flush, then after it:
  cachegate hot-keys --url $URL --token $ADMIN_TOKEN --limit 1000 > hot.ndjson
  cachegate warm --from hot.ndjson --url $URL --token $TOKEN
`;

interface HotKeyEntry {
  key: string;
  reads: number;
  type: string;
  value?: unknown;
  ttl?: number | null;
}

/** `cachegate hot-keys`: see {@link HOT_KEYS_HELP}. Resolves with the exit status. */
export async function runHotKeys(args: string[], io: CliIo): Promise<number> {
  const { values: flags } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (flags.help) {
    io.stdout.write(HOT_KEYS_HELP);
    return EXIT.ok;
  }
  if (flags.url === undefined) throw new UsageError('--url is required');
  const token = flags.token ?? io.env.CACHEGATE_ADMIN_TOKEN;
  if (token === undefined || token === '') throw new UsageError('--token is required (an admin token)');
  if (flags.limit !== undefined && !/^\d+$/.test(flags.limit))
    throw new UsageError('--limit must be a whole number');
  const query = flags.limit === undefined ? '' : `?limit=${flags.limit}`;
  const url = `${flags.url.replace(/\/+$/, '')}/v1/admin/hot-keys${query}`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: io.signal });
  } catch (error) {
    io.stderr.write(
      `cachegate hot-keys: ${flags.url} could not be reached (${(error as Error).cause ?? (error as Error).message})\n`,
    );
    return EXIT.stopped;
  }
  const text = await response.text();
  let body: { entries?: HotKeyEntry[]; processes?: number; error?: { message?: string } };
  try {
    body = JSON.parse(text);
  } catch {
    body = {};
  }
  if (response.status !== 200 || !Array.isArray(body.entries)) {
    io.stderr.write(
      `cachegate hot-keys: the gateway answered ${response.status}: ${body.error?.message ?? text.slice(0, 200)}\n`,
    );
    return EXIT.stopped;
  }
  let lines = '';
  let others = 0;
  for (const entry of body.entries) {
    if (entry.type !== 'string') {
      others++;
      continue;
    }
    lines += `${JSON.stringify({ key: entry.key, value: entry.value, ttl: entry.ttl ?? null })}\n`;
  }
  io.stdout.write(lines);
  io.stderr.write(
    `hot-keys: ${body.entries.length - others} entries printed` +
      (others > 0 ? `, ${others} keys left out (not strings, or gone)` : '') +
      `; reads of ${body.processes ?? 1} gateway process${body.processes === 1 ? '' : 'es'}\n`,
  );
  return EXIT.ok;
}
