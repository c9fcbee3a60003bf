import type { Principal } from '../auth/principal.js';
import type { CommandExecutor } from '../core/executor.js';
import { nearCachesOf, type RedisBackend } from '../redis/backend.js';

/** What a warm start did, for the start-up log and the tests. */
export interface WarmStartReport {
  /** Keys of the saved hot set. */
  readonly saved: number;
  /** Keys read into the near cache (found or not). */
  readonly read: number;
  /** Near-cache bytes held afterwards. */
  readonly bytes: number;
  readonly ms: number;
  /** Why it stopped before the end of the saved set, if it did. */
  readonly stoppedBy?: 'time' | 'bytes' | 'not ready' | 'error';
}

/** Limits of a warm start. */
export interface WarmStartLimits {
  /** The longest it may take, waiting for Redis and tracking included. */
  readonly timeMs: number;
  /** Stops once the near caches hold this many bytes. */
  readonly maxBytes: number;
}

/** Keys read per batch, at most; fewer when the bytes they would take are near the limit. */
const BATCH = 100;
/** The first batch, whose bytes per key size the next ones. */
const FIRST_BATCH = 10;

/**
 * The warm start reads as a read token with no Redis user of its own would, so it fills exactly what such a
 * token's reads would have filled, and Redis's ACL for read tokens applies.
 */
const WARM_START_PRINCIPAL: Principal = { name: 'cachegate-warm-start', scope: 'read' };

/**
 * Fills the near cache with `GET <key>` of each saved hot key, most read first, through the executor's
 * ordinary read path (so the entries are the ones later reads of those keys look up, tracked by Redis like
 * any other). Waits for Redis and for tracking to be live first. Never throws: a warm start that cannot be
 * done is reported and the gateway starts cold.
 */
export async function warmNearCache(
  executor: CommandExecutor,
  backend: RedisBackend,
  keys: readonly string[],
  limits: WarmStartLimits,
): Promise<WarmStartReport> {
  const started = Date.now();
  const deadline = started + limits.timeMs;
  const report = (read: number, stoppedBy?: WarmStartReport['stoppedBy']): WarmStartReport => ({
    saved: keys.length,
    read,
    bytes: heldBytes(backend),
    ms: Date.now() - started,
    ...(stoppedBy === undefined ? {} : { stoppedBy }),
  });
  if (!(await live(backend, deadline))) return report(0, 'not ready');
  let read = 0;
  const heldBefore = heldBytes(backend);
  while (read < keys.length) {
    if (Date.now() >= deadline) return report(read, 'time');
    const held = heldBytes(backend);
    if (held >= limits.maxBytes) return report(read, 'bytes');
    // Sized by the bytes per key so far, so the last batch overshoots the limit by about one key.
    const perKey = read === 0 ? 0 : (held - heldBefore) / read;
    const size =
      perKey > 0 ? Math.max(1, Math.min(BATCH, Math.floor((limits.maxBytes - held) / perKey))) : FIRST_BATCH;
    const batch = keys.slice(read, read + size);
    try {
      await executor.run(
        WARM_START_PRINCIPAL,
        'pipeline',
        batch.map((key) => ['GET', key]),
      );
    } catch {
      return report(read, 'error');
    }
    read += batch.length;
  }
  return report(read);
}

/** Waits until Redis is ready and every near cache tracks; false when the deadline came first. */
async function live(backend: RedisBackend, deadline: number): Promise<boolean> {
  for (;;) {
    const caches = nearCachesOf(backend);
    if (backend.isReady && caches.length > 0 && caches.every((cache) => cache.isLive)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function heldBytes(backend: RedisBackend): number {
  return nearCachesOf(backend).reduce((total, cache) => total + cache.store.bytes, 0);
}
