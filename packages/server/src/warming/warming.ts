import { DEFAULT_DATABASE } from '../auth/database.js';
import type { Principal } from '../auth/principal.js';
import type { CommandExecutor } from '../core/executor.js';
import type { Logger } from '../log.js';
import type { RedisBackend } from '../redis/backend.js';
import type { HotSet } from './hot-set.js';
import type { HotKeysPeers } from './peers.js';
import { loadHotSet, saveHotSet } from './saved-hot-set.js';
import type { HotKey } from './top-k.js';
import { type WarmStartReport, warmNearCache } from './warm-start.js';

/** Options of {@link Warming}. */
export interface WarmingOptions {
  /** The hot set the executor feeds (CACHEGATE_HOT_KEYS); undefined: off, and no warm start either. */
  hotSet: HotSet | undefined;
  /** Longest warm start of the near cache (CACHEGATE_WARM_START_MS); 0: none. */
  warmStartMs: number;
  /** The near cache's budget when it is on (it fills at most half of it at start); undefined: it is off. */
  nearCacheMaxBytes: number | undefined;
  executor: CommandExecutor;
  /** The main Redis, where the hot set is saved and whose near cache starts warm. */
  backend: RedisBackend;
  /** The other processes of this host (CACHEGATE_WORKERS > 1). @default none */
  peers?: HotKeysPeers | undefined;
  log: Logger;
  /** How often the hot set is saved and aged. @default 60000 */
  saveIntervalMs?: number;
}

/** A hot set as the admin route answers it. */
export interface HotKeysAnswer {
  readonly keys: HotKey[];
  /** Gateway processes whose reads it sums (1 without workers). */
  readonly processes: number;
}

/** A scope user's principal: whether Redis enforces scope users tells whether a reserved key is private. */
const PROBE: Principal = { name: 'cachegate-warming', scope: 'write' };

/**
 * Cache warming, the gateway's side (decisions 0035-0037): around the hot set the executor feeds (see
 * {@link HotSet}), the admin route's answers across processes, the hot set saved in the main Redis every
 * minute and at shutdown, and the near cache's warm start from it.
 */
export class Warming {
  readonly #hotSet: HotSet | undefined;
  readonly #options: WarmingOptions;
  #timer: NodeJS.Timeout | undefined;
  #warnedUnsaved = false;
  #isSeeded = false;
  #isClosed = false;

  constructor(options: WarmingOptions) {
    this.#options = options;
    this.#hotSet = options.hotSet;
    const hotSet = this.#hotSet;
    if (hotSet !== undefined) options.peers?.serve((database) => hotSet.top(database));
  }

  /** True when the hot set is on. */
  get isOn(): boolean {
    return this.#hotSet !== undefined;
  }

  /** Keys the hot set follows per database. */
  get capacity(): number {
    return this.#hotSet?.capacity ?? 0;
  }

  /** The most read keys of `database` across this host's processes, most read first. */
  async hotKeys(database: string, limit: number): Promise<HotKeysAnswer> {
    const hotSet = this.#hotSet;
    if (hotSet === undefined) return { keys: [], processes: 0 };
    const merged = await this.#options.peers?.collect(database, limit);
    return merged ?? { keys: hotSet.top(database, limit), processes: 1 };
  }

  /**
   * Before the gateway listens: seeds the hot set with the one saved in Redis and, with the near cache on,
   * fills the near cache with it (bounded in time and bytes); then saves every minute. Never throws.
   */
  async start(): Promise<WarmStartReport | undefined> {
    if (this.#hotSet === undefined) return undefined;
    const { backend, executor, log, nearCacheMaxBytes, warmStartMs } = this.#options;
    const started = Date.now();
    this.#timer = setInterval(() => void this.#saveAndAge(), this.#options.saveIntervalMs ?? 60_000);
    this.#timer.unref();
    const shouldWarm = nearCacheMaxBytes !== undefined && warmStartMs > 0;
    if (!(await waitUntilReady(backend, shouldWarm ? warmStartMs : 0))) {
      // Started cold; the saved hot set still seeds this process's once Redis is there.
      backend.on('up', () => void this.#seed());
      return undefined;
    }
    const keys = await this.#seed();
    if (!shouldWarm || keys.length === 0) return undefined;
    const report = await warmNearCache(executor, backend, keys, {
      timeMs: Math.max(0, warmStartMs - (Date.now() - started)),
      maxBytes: Math.floor(nearCacheMaxBytes / 2),
    });
    log.info(report, 'warming: near cache filled from the saved hot set');
    return report;
  }

  /** Reads the saved hot set and seeds this process's with it, once; returns its keys. */
  async #seed(): Promise<string[]> {
    const hotSet = this.#hotSet;
    if (hotSet === undefined || this.#isSeeded || !this.#isPrivate()) return [];
    this.#isSeeded = true;
    try {
      const keys = await loadHotSet((commands) => this.#options.executor.runAsGateway(commands));
      hotSet.seed(DEFAULT_DATABASE, keys.slice(0, hotSet.capacity));
      return keys;
    } catch (error) {
      this.#options.log.warn({ err: error }, 'warming: could not read the saved hot set');
      return [];
    }
  }

  /** Saves the hot set one last time (after the drain, before Redis closes) and stops saving. */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearInterval(this.#timer);
    await this.#save();
  }

  async #saveAndAge(): Promise<void> {
    await this.#save();
    this.#hotSet?.age();
  }

  /** Saves the main database's hot set across processes; never throws (a failed save waits for the next). */
  async #save(): Promise<void> {
    const hotSet = this.#hotSet;
    const { backend, executor, log } = this.#options;
    if (hotSet === undefined || !backend.isReady || !this.#isPrivate()) return;
    try {
      const { keys } = await this.hotKeys(DEFAULT_DATABASE, hotSet.capacity);
      if (keys.length === 0) return;
      await saveHotSet(
        (commands) => executor.runAsGateway(commands),
        keys.map(({ key }) => key),
      );
    } catch (error) {
      log.warn({ err: error }, 'warming: could not save the hot set');
    }
  }

  /**
   * The hot set is saved only where no read or write token can read it: where they run as scope users,
   * whose key patterns leave the reserved prefix out (decision 0036).
   */
  #isPrivate(): boolean {
    const isPrivate = !this.#options.backend.scriptsNeedAdmin(PROBE);
    if (!isPrivate && !this.#warnedUnsaved) {
      this.#warnedUnsaved = true;
      this.#options.log.warn(
        'warming: the hot set is not saved (so no warm start) without scope users (CACHEGATE_SCOPE_USERS): read and write tokens could read it',
      );
    }
    return isPrivate;
  }
}

/** Waits until Redis is ready, at most `ms`; true when it is. */
async function waitUntilReady(backend: RedisBackend, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!backend.isReady) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}
