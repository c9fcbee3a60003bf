import { readFileSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { expect } from 'vitest';
import { waitFor } from './gateway.js';

/**
 * The invariants of docs/security.md, checked after every hostile case: the same process alive, every
 * gauge back to zero, RSS under its bound, another caller served within 2 s throughout, tenants intact.
 */

/** A gateway under test as the invariants see it. */
export interface Watched {
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  /** Its process (the test's own for an in-process gateway). */
  readonly pid: number;
  /** The main admin token, which reads the gauges on /metrics. */
  readonly adminToken: string;
}

/**
 * What the gateway holds for callers, each 0 when nobody is being served; the scrape that reads them is
 * the one request and the one connection left (connections the test itself keeps alive are counted apart:
 * see expectInvariants).
 */
const GAUGES = {
  cachegate_http_requests_in_flight: 1,
  cachegate_http_connections: 1,
  cachegate_body_bytes_reserved: 0,
  cachegate_answer_bytes_held: 0,
  cachegate_streams_open: 0,
  cachegate_redis_subscriptions: 0,
} as const;

export type Gauges = Record<keyof typeof GAUGES, number>;

/** One request on a connection of its own (closed after it), as a caller outside any attack makes it. */
export function call(
  base: string,
  path: string,
  options: { token?: string; method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string; headers: IncomingHttpHeaders }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: {
          connection: 'close',
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString(),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The gauges, read from /metrics with the main admin token. */
export async function gauges(watched: Watched): Promise<Gauges> {
  const { status, text } = await call(watched.base, '/metrics', { token: watched.adminToken });
  expect(status).toBe(200);
  const values = {} as Gauges;
  for (const name of Object.keys(GAUGES) as (keyof typeof GAUGES)[]) {
    const line = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    values[name] = Number(line?.[1] ?? Number.NaN);
  }
  return values;
}

/** Resident memory of a process, in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

/**
 * A caller outside the attack: reads `path` every 20 ms on fresh connections while the attack runs,
 * and samples the gateway's RSS. `stop()` says how it fared.
 */
export function startVictim(watched: Watched, path: string, token: string, expected: string) {
  let isRunning = true;
  const report = { served: 0, failed: [] as string[], worstMs: 0, peakRssMb: rssMb(watched.pid) };
  const loop = (async () => {
    while (isRunning) {
      const started = performance.now();
      try {
        const { status, text } = await call(watched.base, path, { token });
        if (status !== 200 || !text.includes(expected)) report.failed.push(`${status} ${text.slice(0, 120)}`);
        else report.served++;
      } catch (error) {
        report.failed.push(String(error));
      }
      report.worstMs = Math.max(report.worstMs, performance.now() - started);
      report.peakRssMb = Math.max(report.peakRssMb, rssMb(watched.pid));
      await new Promise((done) => setTimeout(done, 20));
    }
  })();
  return {
    async stop() {
      isRunning = false;
      await loop;
      return report;
    },
  };
}

/**
 * Checks the invariants after a hostile case: the gateway answers (same process), the gauges come back
 * to zero within `settleMs` (connections to the `keptAlive` ones the test held before the attack), RSS
 * stayed under `maxRssMb`, and the victim was served within 2 s every time.
 */
export async function expectInvariants(
  watched: Watched,
  victim: { served: number; failed: string[]; worstMs: number; peakRssMb: number },
  { maxRssMb = 512, settleMs = 5000, keptAlive = 0 } = {},
): Promise<Gauges> {
  const expected = { ...GAUGES, cachegate_http_connections: GAUGES.cachegate_http_connections + keptAlive };
  expect(victim.failed.slice(0, 3), `the victim was refused ${victim.failed.length} times`).toEqual([]);
  expect(victim.served, 'the victim was never served').toBeGreaterThan(0);
  expect(victim.worstMs, 'the victim waited too long').toBeLessThan(2000);
  expect(victim.peakRssMb, 'RSS over its bound').toBeLessThan(maxRssMb);
  let last: Gauges | undefined;
  await waitFor(
    async () => {
      last = await gauges(watched);
      return (Object.keys(GAUGES) as (keyof typeof GAUGES)[]).every(
        (name) => last?.[name] === expected[name],
      );
    },
    settleMs,
    'the gauges did not come back to zero',
  ).catch((error: Error) => {
    throw new Error(`${error.message}: ${JSON.stringify(last)}`);
  });
  return last as Gauges;
}

/**
 * Runs `attack` while a victim reads `victim.path`, then checks every invariant (see expectInvariants) and
 * logs what it saw. The attack ends when it resolves and the function it may return (closing what the
 * attacker holds open) has run: the gauges must be back to zero after that.
 */
export async function attacked(
  watched: Watched,
  victim: { path: string; token: string; expected: string },
  attack: () => Promise<unknown>,
  limits: { maxRssMb?: number; settleMs?: number } = {},
): Promise<void> {
  // Connections the test keeps alive from before (readiness probes), which the attack did not open.
  const keptAlive = (await gauges(watched)).cachegate_http_connections - 1;
  const running = startVictim(watched, victim.path, victim.token, victim.expected);
  try {
    const end = await attack();
    if (typeof end === 'function') end();
  } finally {
    const report = await running.stop();
    const settled = await expectInvariants(watched, report, { ...limits, keptAlive });
    console.log(
      `peak RSS ${report.peakRssMb.toFixed(0)} MB, victim worst ${report.worstMs.toFixed(0)} ms over ` +
        `${report.served} requests, gauges ${JSON.stringify(settled)}`,
    );
  }
}
