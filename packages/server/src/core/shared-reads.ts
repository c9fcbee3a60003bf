import type { AnswerReservation } from '../answer-budget.js';
import { touchesReservedKey } from '../auth/namespace.js';
import type { Principal } from '../auth/principal.js';
import type { PlannedCommand, RedisBackend } from '../redis/backend.js';
import { keysOf } from '../redis/command-table.js';
import type { NearCache } from '../redis/near-cache.js';
import type { FillTicket } from '../redis/near-cache-store.js';
import { DroppedReply, ErrorReply } from '../redis/resp.js';
import type { SyncPoint } from '../redis/sync-point.js';
import type { Command, Reply } from '../redis/types.js';

/** Called with a shared read's reply, or with the failure of the batch it was sent in. */
type Waiter = (error: unknown, reply: Reply) => void;

/** A read being sent; identical reads wait for its reply instead of sending their own. */
interface Flight {
  /** {@link SharedReads.writes} when it was sent: a read may join it only if no write completed since. */
  readonly writes: number;
  /** Reads that joined it; made on the first join, as most reads are not shared. */
  waiters: Waiter[] | undefined;
}

/** One read that goes to Redis. */
interface Miss {
  readonly index: number;
  readonly id: string;
  readonly command: PlannedCommand;
  /** The near cache tracking its server, when live. */
  readonly near: NearCache | undefined;
  /** Set when its reply may be kept: the keys it reads, and the ticket taken before sending. */
  readonly ticket: FillTicket | undefined;
  readonly flight: Flight;
}

/**
 * The executor's step for batches made only of cacheable reads (CommandInfo.isCacheable), by callers whose
 * commands may run as any scope user (no Redis user of their own, so every one of them may read every key):
 * - what the near cache holds is answered from memory;
 * - a read identical to one already on its way to Redis waits for that one's reply (single flight), so a
 *   storm of identical reads sends one command; it is bounded by the first one's deadline, which is earlier;
 * - the rest go to Redis: through the near cache's tracked reader when it is live (with a PTTL per key, so
 *   no entry outlives its key), else on the caller's own connection.
 */
export class SharedReads {
  /** Reads that waited for an identical one instead of being sent. */
  coalesced = 0;
  /** Write batches completed; see {@link wrote}. */
  writes = 0;
  /** By backend: the same command on two databases is two reads. */
  readonly #inFlight = new WeakMap<RedisBackend, Map<string, Flight>>();

  /**
   * Called before a write's answer is sent. A read that arrives after it must not take the reply of a read
   * sent before it (which may predate the write), or a caller could miss its own write.
   */
  wrote(): void {
    this.writes++;
  }

  async run(
    backend: RedisBackend,
    principal: Principal,
    planned: readonly PlannedCommand[],
    deadline: number,
    reservation?: AnswerReservation,
    seen?: SyncPoint,
  ): Promise<Reply[]> {
    // The near cache's reader runs with the gateway's own rights, and a shared reply is another caller's:
    // a read naming a reserved key goes on the caller's own connection, where Redis applies its ACL user.
    for (let i = 0; i < planned.length; i++) {
      if (touchesReservedKey((planned[i] as PlannedCommand).args))
        return (await backend.run({ principal, commands: planned, deadline, reservation, seen })).replies;
    }
    // A caller that has seen writes reads on its own: an identical read already on its way may predate them.
    const mayShare = seen === undefined || seen.size === 0;
    let inFlight = this.#inFlight.get(backend);
    if (inFlight === undefined) {
      inFlight = new Map();
      this.#inFlight.set(backend, inFlight);
    }
    const now = Date.now();
    const replies: Reply[] = new Array(planned.length);
    const joins: Promise<void>[] = [];
    const misses: Miss[] = [];
    for (let i = 0; i < planned.length; i++) {
      const command = planned[i] as PlannedCommand;
      const id = commandId(command.args);
      const candidate = backend.nearCacheFor(command, seen);
      const near = candidate?.isLive === true ? candidate : undefined;
      if (near !== undefined) {
        const cached = near.store.lookup(id, now);
        if (cached !== undefined) {
          replies[i] = held(reservation, cached);
          continue;
        }
      }
      const joined = mayShare ? inFlight.get(id) : undefined;
      if (joined !== undefined && joined.writes === this.writes) {
        this.coalesced++;
        joins.push(
          new Promise((resolve, reject) => {
            joined.waiters ??= [];
            joined.waiters.push((error, reply) => {
              if (error !== undefined) return reject(error);
              replies[i] = held(reservation, reply);
              resolve();
            });
          }),
        );
        continue;
      }
      let ticket: FillTicket | undefined;
      if (near !== undefined && command.info !== undefined) {
        const keys = keysOf(command.info, command.args);
        if (keys.length > 0 && keys.every((key) => near.keeps(key)))
          ticket = near.store.ticket(keys as string[]);
      }
      const flight: Flight = { writes: this.writes, waiters: undefined };
      if (mayShare) inFlight.set(id, flight);
      misses.push({ index: i, id, command, near, ticket, flight });
    }
    if (misses.length > 0) {
      // Sent once per near cache (one, but for Cluster reads of several masters).
      const first = misses[0]?.near;
      const sends = misses.every((miss) => miss.near === first)
        ? [this.#send(backend, inFlight, first, principal, misses, replies, deadline, reservation, seen)]
        : [...new Set(misses.map((miss) => miss.near))].map((near) =>
            this.#send(
              backend,
              inFlight,
              near,
              principal,
              misses.filter((miss) => miss.near === near),
              replies,
              deadline,
              reservation,
              seen,
            ),
          );
      if (joins.length === 0 && sends.length === 1) await sends[0];
      else await Promise.all([...sends, ...joins]);
    } else if (joins.length > 0) await Promise.all(joins);
    // Answered from memory: at the end of this event-loop turn, with every other hit of it, so their
    // answers are written in one go, as the answers sharing one Redis reply are (see docs/performance.md).
    else await nextTurn();
    return replies;
  }

  async #send(
    backend: RedisBackend,
    inFlight: Map<string, Flight>,
    near: NearCache | undefined,
    principal: Principal,
    misses: Miss[],
    replies: Reply[],
    deadline: number,
    reservation: AnswerReservation | undefined,
    seen: SyncPoint | undefined,
  ): Promise<void> {
    const sentAt = Date.now();
    const fail = (error: unknown, failed: Miss[]) => {
      for (const miss of failed) {
        if (miss.ticket !== undefined) near?.store.abandon(miss.ticket);
        settle(inFlight, miss, error, null);
      }
      throw error;
    };
    // The flight's replies are held in a share of its own, not the caller's: others may be waiting for them
    // when the caller goes away. Each caller then holds what it takes (see `held`).
    const flight = reservation?.budget.open();
    const viaCaller = (sent: Miss[]) =>
      backend
        .run({ principal, commands: sent.map(({ command }) => command), deadline, reservation: flight, seen })
        .then(({ replies }) => replies);
    let answers: Reply[];
    try {
      answers =
        near === undefined ? await viaCaller(misses) : await near.read(withTtls(misses), deadline, flight);
    } catch (error) {
      flight?.release();
      return fail(error, misses);
    }
    // A Cluster slot that moved answers MOVED or ASK on the tracked reader: those go the routed way, unkept.
    const moved: Miss[] = [];
    let at = 0;
    for (const miss of misses) {
      const reply = answers[at++] ?? null;
      const ticket = miss.ticket;
      if (ticket !== undefined && near !== undefined) {
        // One PTTL per key followed the read: the entry expires with the first of its keys.
        let expiresAt = Number.POSITIVE_INFINITY;
        for (let k = 0; k < ticket.keys.length; k++) {
          const ttl = answers[at++];
          if (typeof ttl === 'number' && ttl >= 0) expiresAt = Math.min(expiresAt, sentAt + ttl);
        }
        if (reply instanceof ErrorReply) near.store.abandon(ticket);
        else near.store.store(miss.id, ticket, reply, sizeOf(reply), expiresAt);
      }
      if (near !== undefined && reply instanceof ErrorReply && /^(MOVED|ASK) /.test(reply.message)) {
        moved.push(miss);
        continue;
      }
      replies[miss.index] = held(reservation, reply);
      settle(inFlight, miss, undefined, reply);
    }
    if (moved.length === 0) return flight?.release();
    let again: Reply[];
    try {
      again = await viaCaller(moved);
    } catch (error) {
      return fail(
        error,
        moved.map((miss) => ({ ...miss, ticket: undefined })),
      );
    } finally {
      flight?.release();
    }
    moved.forEach((miss, j) => {
      const reply = again[j] ?? null;
      replies[miss.index] = held(reservation, reply);
      settle(inFlight, miss, undefined, reply);
    });
  }
}

let turn: Promise<void> | undefined;

/** Resolves in the check phase of this event-loop turn: one promise for all who wait in it. */
function nextTurn(): Promise<void> {
  turn ??= new Promise((resolve) =>
    setImmediate(() => {
      turn = undefined;
      resolve();
    }),
  );
  return turn;
}

/** Ends a miss's flight (unless a newer read of the same command took its place) and tells its waiters. */
function settle(inFlight: Map<string, Flight>, miss: Miss, error: unknown, reply: Reply): void {
  if (inFlight.get(miss.id) === miss.flight) inFlight.delete(miss.id);
  const waiters = miss.flight.waiters;
  if (waiters !== undefined) for (const waiter of waiters) waiter(error, reply);
}

/** The commands to send for the misses: each read, then a PTTL of each key it may keep. */
function withTtls(misses: readonly Miss[]): Command[] {
  const commands: Command[] = [];
  for (const miss of misses) {
    commands.push(miss.command.args);
    for (const key of miss.ticket?.keys ?? []) commands.push(['PTTL', key]);
  }
  return commands;
}

/** A command's identity: its name and arguments, each length-prefixed so no two commands share one. */
function commandId(args: Command): string {
  let id = String(args[0]).toLowerCase();
  for (let i = 1; i < args.length; i++) {
    const arg = args[i] as string;
    id += `\u0000${arg.length}:${arg}`;
  }
  return id;
}

/**
 * A reply this request did not read from Redis (a near-cache hit, another read's reply), counted in its
 * answer like one it read: in its place a DroppedReply when the answer cannot hold it.
 */
function held(reservation: AnswerReservation | undefined, reply: Reply): Reply {
  if (reply instanceof ErrorReply) return reply;
  const reason = reservation?.charge(sizeOf(reply));
  if (reason === undefined || reason === 'unwanted') return reply;
  const budget = reservation?.budget;
  return DroppedReply.over(reason, (reason === 'answer' ? budget?.maxPerAnswer : budget?.maxHeld) ?? 0);
}

/** Bytes a reply holds, for the near cache's budget. */
function sizeOf(reply: Reply): number {
  if (Buffer.isBuffer(reply)) return reply.length + 16;
  if (Array.isArray(reply)) {
    let bytes = 16;
    for (const item of reply) bytes += sizeOf(item);
    return bytes;
  }
  return typeof reply === 'string' ? reply.length * 2 + 16 : 16;
}
