import { EventEmitter } from 'node:events';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { AnswerReservation } from '../answer-budget.js';
import type { RedisUser } from '../auth/database.js';
import type { Logger } from '../log.js';
import { describeFailure, type RedisFailure } from './failure.js';
import {
  DroppedReply,
  ErrorReply,
  encodeCommand,
  ProtocolError,
  ReplyParser,
  type ReplyTarget,
} from './resp.js';
import type { Command, Reply, ReplyForm } from './types.js';

/** How to reach one Redis server. */
export interface ConnectionOptions {
  /** `redis[s]://[user[:password]@]host[:port][/db]` */
  url: string;
  /** Password when it is not part of the URL. @default none */
  password?: string | undefined;
  /** Connect as this ACL user instead of the URL's. @default the URL's user */
  user?: RedisUser | undefined;
  /** PEM CA bundle that signs the server's certificate, for `rediss://`. @default Node's CAs */
  tlsCa?: Buffer | undefined;
  /** Used as the connect timeout, so a dead host is noticed as fast as a slow command. */
  commandTimeoutMs: number;
  /**
   * Most commands waiting for replies. Past it, commands fail at once instead of piling up behind a Redis
   * that stopped answering. @default 100000
   */
  maxQueuedCommands?: number;
  /** Replies nested deeper than this arrive as an ErrorReply (see ReplyParser). @default 1000 */
  maxReplyDepth?: number;
  /** Replies larger than this arrive as an ErrorReply, never held (see ReplyParser). @default no limit */
  maxReplyBytes?: number;
  /**
   * Sends `READONLY` after logging in: a Cluster replica then answers reads of its master's slots instead of
   * redirecting them. @default false
   */
  readOnly?: boolean | undefined;
  /** Connect only once this settles; a rejection fails what was sent meanwhile. @default connect at once */
  startAfter?: Promise<void> | undefined;
  /**
   * Receives replies that no command asked for: the lines of a connection in MONITOR mode. Unset, such a
   * reply is a protocol error. @default none
   */
  onPush?: ((reply: Reply) => void) | undefined;
  /**
   * Tells pushes apart from replies while commands wait, for a subscribed connection that also sends
   * commands (the near cache's PING barriers between invalidation messages). @default none: only replies
   * that no command asked for are pushes
   */
  isPush?: ((reply: Reply) => boolean) | undefined;
  /**
   * Reconnect after the connection is lost. A dedicated connection (MONITOR) does not: it emits `end` and
   * stays closed, since the state it held is gone with it. @default true
   */
  reconnects?: boolean | undefined;
  logger: Logger;
}

/** Nothing was written to Redis: the connection is down, closed or full. The command certainly did not run. */
export class NotSentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotSentError';
  }
}

/** The connection ended after the command was written: it may have run. */
export class ConnectionLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionLostError';
  }
}

/** No reply before the deadline. `wasSent` says whether the command had been written (and so may have run). */
export class ReplyTimeoutError extends Error {
  constructor(readonly wasSent: boolean) {
    super('Redis did not answer in time');
    this.name = 'ReplyTimeoutError';
  }
}

/**
 * A transaction ran, but its EXEC reply was too large (or too deep) to forward: Redis applied it, so it must
 * not be reported as discarded.
 */
export class TransactionReplyDroppedError extends Error {
  constructor(readonly reply: DroppedReply) {
    super(reply.message);
    this.name = 'TransactionReplyDroppedError';
  }
}

/** Redis discarded a transaction; the message says why (the first command Redis refused to queue). */
export class TransactionAbortedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransactionAbortedError';
  }
}

/** Called once with every reply of a batch, in order, or with the failure that ended it. */
type Done = (error: Error | undefined, replies: Reply[]) => void;

/** A batch of commands written back to back, waiting for its replies. */
class Pending implements ReplyTarget {
  readonly replies: Reply[] = [];
  constructor(
    readonly commands: readonly Command[],
    /** Absolute `Date.now()` time after which the caller gets a timeout. */
    readonly deadline: number,
    /** Cleared once the caller was answered; later replies are read and dropped unbuilt, keeping the stream in step. */
    public done: Done | undefined,
    readonly form: ReplyForm,
    readonly reservation: AnswerReservation | undefined,
  ) {}

  get isWanted(): boolean {
    return this.done !== undefined;
  }
}

/** The target of replies no batch waits for (MONITOR lines, invalidation messages): read as bytes. */
const NOBODY: ReplyTarget = { form: 'bytes', reservation: undefined, isWanted: true };

type State = 'connecting' | 'ready' | 'down' | 'closed';

/** Connection errors repeat on every retry while a server is down: log the first, then every 10 s. */
const ERROR_LOG_INTERVAL_MS = 10_000;
const SCRIPT_COMMAND = /^(eval|evalsha|fcall)(_ro)?$/i;

/**
 * One long-lived connection to one Redis server, speaking RESP2 itself (decision 0007). Everything sent in
 * one tick leaves in one write; replies are matched to batches in order. It never hangs and never queues
 * offline:
 * - while down, commands fail at once with {@link NotSentError}; reconnection runs in the background with
 *   capped, jittered backoff (commands sent before the very first connection wait for it);
 * - each batch carries a deadline, watched by one timer per connection; a batch past it is answered with
 *   {@link ReplyTimeoutError}, and a script or function still running at the head of the queue is
 *   reported (`busy-script`) so that the node can kill it from another connection;
 * - a protocol error (anything the parser cannot read) destroys the socket: pending batches get
 *   {@link ConnectionLostError} ("may have run") and a fresh connection replaces it at once.
 * Events: `up`, `down`, `reconnecting`, `busy-script` (`'script' | 'function'`), `failure` (a
 * {@link RedisFailure}, for every failed attempt or refused login), and `end` for good when `reconnects` is
 * false.
 */
export class RedisConnection extends EventEmitter {
  readonly #options: ConnectionOptions;
  readonly #target: { host: string; port: number; tls: boolean; db: number };
  /** Who the connection logs in as: the user it serves when it has one, else the gateway's own login. */
  readonly #credentials: Credentials | undefined;
  /** The gateway's own login, which selects the database before a user that may not do so takes over. */
  readonly #own: Credentials | undefined;
  readonly #maxQueued: number;
  #state: State = 'connecting';
  #socket: Socket | undefined;
  /** Written batches, oldest first, from `#head` on. */
  #queue: (Pending | undefined)[] = [];
  #head = 0;
  #queuedCommands = 0;
  /** Batches accepted while the first connection is being made. */
  #unsent: Pending[] = [];
  #out: (string | Buffer)[] = [];
  #outHasBuffer = false;
  #flushScheduled = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #retries = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #lastErrorLog = 0;
  #failure: RedisFailure | undefined;

  constructor(options: ConnectionOptions) {
    super();
    this.#options = options;
    this.#maxQueued = options.maxQueuedCommands ?? 100_000;
    const url = new URL(options.url);
    this.#target = {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port || 6379),
      tls: url.protocol === 'rediss:',
      db: Number(url.pathname.slice(1) || 0),
    };
    const ownPassword = url.password ? decodeURIComponent(url.password) : options.password;
    this.#own =
      ownPassword === undefined
        ? undefined
        : { username: url.username ? decodeURIComponent(url.username) : undefined, password: ownPassword };
    this.#credentials = options.user ?? this.#own;
    if (options.startAfter === undefined) this.#connect();
    else
      options.startAfter.then(
        () => this.#connect(),
        (error: Error) => this.#failUnsent(new NotSentError(error.message)),
      );
  }

  /** `host:port` of the server, safe to log. */
  get address(): string {
    return `${this.#target.host}:${this.#target.port}`;
  }

  get isReady(): boolean {
    return this.#state === 'ready';
  }

  /** Commands written and waiting for their replies. */
  get queued(): number {
    return this.#queuedCommands;
  }

  /** Why the last attempt failed, while not ready since; undefined once ready. */
  get failure(): RedisFailure | undefined {
    return this.#failure;
  }

  /**
   * Sends commands back to back, pipelined with everything else sent in this tick, and resolves with one
   * reply per command (Redis errors as ErrorReply entries). Rejects when the batch failed as a whole.
   * @param deadline absolute `Date.now()` time by which the replies must be in.
   * @param form how the replies come back (see ReplyForm).
   * @param reservation where the replies' memory is counted (see AnswerBudget). @default none
   */
  send(
    commands: readonly Command[],
    deadline: number,
    form: ReplyForm = 'bytes',
    reservation?: AnswerReservation,
  ): Promise<Reply[]> {
    return new Promise((resolve, reject) =>
      this.enqueue(
        commands,
        deadline,
        (error, replies) => (error ? reject(error) : resolve(replies)),
        form,
        reservation,
      ),
    );
  }

  /** {@link send} with a callback. */
  enqueue(
    commands: readonly Command[],
    deadline: number,
    done: Done,
    form: ReplyForm = 'bytes',
    reservation?: AnswerReservation,
  ): void {
    // An empty batch expects no reply: queued, it would take the next batch's first one.
    if (commands.length === 0) {
      done(undefined, []);
      return;
    }
    const entry = new Pending(commands, deadline, done, form, reservation);
    if (this.#state === 'ready') {
      if (this.#queuedCommands + commands.length > this.#maxQueued) {
        done(new NotSentError('The Redis connection has too many commands waiting'), []);
        return;
      }
      this.#write(entry);
    } else if (this.#state === 'connecting') {
      this.#unsent.push(entry);
    } else {
      done(new NotSentError(`The connection to Redis at ${this.address} is ${this.#state}`), []);
      return;
    }
    this.#arm(deadline);
  }

  /**
   * Runs commands inside MULTI/EXEC, written as one contiguous block, so concurrent transactions never
   * interleave or nest. Resolves with EXEC's replies (failed commands as ErrorReply entries).
   * @throws {TransactionAbortedError} when Redis discarded the transaction (EXECABORT).
   * @throws {TransactionReplyDroppedError} when it ran but EXEC's reply was too large to forward.
   */
  async transaction(
    commands: readonly Command[],
    deadline: number,
    form: ReplyForm = 'bytes',
    reservation?: AnswerReservation,
  ): Promise<Reply[]> {
    const replies = await this.send([['MULTI'], ...commands, ['EXEC']], deadline, form, reservation);
    const exec = replies[replies.length - 1];
    if (Array.isArray(exec)) return exec;
    if (exec instanceof DroppedReply) throw new TransactionReplyDroppedError(exec);
    const refused = replies.slice(1, -1).find((reply) => reply instanceof ErrorReply);
    const why = refused instanceof ErrorReply ? ` First refused command: ${refused.message}` : '';
    throw new TransactionAbortedError(`${exec instanceof ErrorReply ? exec.message : 'EXEC failed'}${why}`);
  }

  /** Reconnects now instead of at the next backoff step (the credentials it waited for exist now). */
  reconnectNow(): void {
    if (this.#state !== 'down' || this.#reconnectTimer === undefined) return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#connect();
  }

  /** Waits (within the command timeout) for the replies already queued, then closes. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasReady = this.#state === 'ready';
    this.#state = 'closed';
    clearTimeout(this.#reconnectTimer);
    this.#failUnsent(new NotSentError('The connection to Redis is closing'));
    this.removeAllListeners();
    const socket = this.#socket;
    if (socket === undefined || socket.destroyed) return;
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    if (wasReady && this.#head < this.#queue.length) {
      await Promise.race([
        new Promise<void>((done) => this.once('drained', done)),
        new Promise<void>((done) => setTimeout(done, this.#options.commandTimeoutMs).unref()),
      ]);
    }
    socket.destroy();
    await closed;
  }

  #connect() {
    if (this.#state === 'closed') return;
    const { host, port, tls } = this.#target;
    const socket = tls
      ? tlsConnect({
          host,
          port,
          ...(isIP(host) === 0 ? { servername: host } : {}),
          ...(this.#options.tlsCa ? { ca: this.#options.tlsCa } : {}),
        })
      : netConnect({ host, port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    let isSecured = false;
    socket.setTimeout(this.#options.commandTimeoutMs, () => {
      // Connected, yet no TLS handshake: most likely a plain-text Redis behind a rediss:// URL.
      const code = tls && !socket.connecting && !isSecured ? 'ERR_TLS_HANDSHAKE_TIMEOUT' : 'ETIMEDOUT';
      socket.destroy(Object.assign(new Error(`connecting to Redis at ${this.address} timed out`), { code }));
    });
    const parser = new ReplyParser(
      this.#onReply,
      this.#options.maxReplyDepth ?? 1000,
      this.#headTarget,
      this.#options.maxReplyBytes,
    );
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      isSecured = tls;
      this.#handshake(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.#socket !== socket) return;
      try {
        parser.feed(chunk);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        this.#options.logger.error(
          { err: { message: error.message }, redis: this.address },
          'unreadable reply from Redis; replacing the connection',
        );
        socket.destroy();
      }
    });
    socket.on('error', (error: Error) => this.#logError(error));
    socket.once('close', () => this.#onClose(socket));
  }

  /**
   * AUTH and SELECT (and READONLY on a Cluster replica, or else a PING) before anything else; queued batches go out once they succeeded. A connection of a
   * scope user selects its database as the gateway's own login, then logs in as the user: scope users may
   * not SELECT, so that neither they nor their scripts leave their database (decision 0018).
   */
  #handshake(socket: Socket) {
    const commands: Command[] = [];
    const { db } = this.#target;
    const user = this.#options.user;
    if (user !== undefined && db !== 0) {
      if (this.#own !== undefined) commands.push(auth(this.#own));
      commands.push(['SELECT', String(db)], auth(user));
    } else {
      if (this.#credentials !== undefined) commands.push(auth(this.#credentials));
      if (db !== 0) commands.push(['SELECT', String(db)]);
    }
    if (this.#options.readOnly === true) commands.push(['READONLY']);
    // Nothing to send: a PING, so that a server wanting a password says so now (NOAUTH), as a refused login.
    if (commands.length === 0) commands.push(['PING']);
    const ready = () => {
      socket.setTimeout(0);
      this.#state = 'ready';
      this.#retries = 0;
      this.#failure = undefined;
      const unsent = this.#unsent;
      this.#unsent = [];
      for (const entry of unsent) if (entry.done !== undefined) this.#write(entry);
      this.emit('up');
    };
    this.#write(
      new Pending(
        commands,
        Date.now() + this.#options.commandTimeoutMs,
        (error, replies) => {
          const refused = replies.find((reply) => reply instanceof ErrorReply);
          if (error === undefined && refused === undefined) return ready();
          this.#logError(refused ?? error ?? new Error('handshake failed'));
          socket.destroy();
        },
        'bytes',
        undefined,
      ),
    );
  }

  #write(entry: Pending) {
    this.#queue.push(entry);
    this.#queuedCommands += entry.commands.length;
    for (const command of entry.commands) {
      const encoded = encodeCommand(command);
      if (typeof encoded !== 'string') this.#outHasBuffer = true;
      this.#out.push(encoded);
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Writes everything queued in this tick: one string when it is all text, else one corked burst. */
  readonly #flush = () => {
    this.#flushScheduled = false;
    const out = this.#out;
    const hasBuffer = this.#outHasBuffer;
    this.#out = [];
    this.#outHasBuffer = false;
    const socket = this.#socket;
    if (socket === undefined || socket.destroyed) return;
    if (out.length === 1) socket.write(out[0] as string | Buffer);
    else if (!hasBuffer) socket.write(out.join(''));
    else {
      socket.cork();
      for (const chunk of out) socket.write(chunk);
      socket.uncork();
    }
  };

  /** Whom the next reply is for: the oldest batch still waiting (none for a push). */
  readonly #headTarget = (): ReplyTarget => this.#queue[this.#head] ?? NOBODY;

  readonly #onReply = (reply: Reply) => {
    const entry = this.#queue[this.#head];
    if (entry === undefined || this.#options.isPush?.(reply)) {
      const onPush = this.#options.onPush;
      if (onPush === undefined) throw new ProtocolError('a reply arrived that no command asked for');
      return onPush(reply);
    }
    entry.replies.push(reply);
    if (entry.replies.length < entry.commands.length) return;
    this.#queue[this.#head++] = undefined;
    this.#queuedCommands -= entry.commands.length;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      this.emit('drained');
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    const done = entry.done;
    if (done === undefined) return;
    entry.done = undefined;
    done(undefined, entry.replies);
  };

  #onClose(socket: Socket) {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    const wasReady = this.#state === 'ready';
    const pending = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.#queuedCommands = 0;
    this.#out = [];
    this.#outHasBuffer = false;
    const lost = new ConnectionLostError(`The connection to Redis at ${this.address} was lost`);
    for (const entry of pending) this.#answer(entry, lost);
    if (this.#state === 'closed') return;
    if (this.#state === 'connecting') {
      this.#failUnsent(new NotSentError(`Redis at ${this.address} is unreachable`));
    }
    if (this.#options.reconnects === false) {
      this.#state = 'closed';
      this.emit('end');
      return;
    }
    this.#state = 'down';
    if (wasReady) this.emit('down');
    const delay = Math.min(50 * 2 ** this.#retries, 2000) + Math.floor(Math.random() * 100);
    this.#retries++;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.emit('reconnecting');
      this.#connect();
    }, delay);
    this.#reconnectTimer.unref();
  }

  #answer(entry: Pending | undefined, error: Error) {
    const done = entry?.done;
    if (entry === undefined || done === undefined) return;
    entry.done = undefined;
    done(error, entry.replies);
  }

  #failUnsent(error: Error) {
    const unsent = this.#unsent;
    this.#unsent = [];
    for (const entry of unsent) this.#answer(entry, error);
  }

  /** Keeps one timer at the earliest deadline of any batch still waiting. */
  #arm(deadline: number) {
    if (deadline >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(this.#expire, Math.max(0, deadline - Date.now()));
    this.#timer.unref();
  }

  /** Answers every batch past its deadline, reports a script blocking the head, and re-arms the timer. */
  readonly #expire = () => {
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const entry of this.#unsent) {
      if (entry.done === undefined) continue;
      if (entry.deadline <= now) this.#answer(entry, new ReplyTimeoutError(false));
      else next = Math.min(next, entry.deadline);
    }
    const head = this.#queue[this.#head];
    if (head?.done !== undefined && head.deadline <= now) {
      const kind = runningScript(head);
      if (kind !== undefined) this.emit('busy-script', kind);
    }
    for (let i = this.#head; i < this.#queue.length; i++) {
      const entry = this.#queue[i];
      if (entry?.done === undefined) continue;
      if (entry.deadline <= now) this.#answer(entry, new ReplyTimeoutError(true));
      else next = Math.min(next, entry.deadline);
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
  };

  /** Records why the connection failed, tells listeners, and logs it: at once when the reason changed. */
  #logError(error: Error) {
    const failure = describeFailure(error);
    const isNew = failure.reason !== this.#failure?.reason;
    this.#failure = failure;
    this.emit('failure', failure);
    const now = Date.now();
    if (!isNew && now - this.#lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.#lastErrorLog = now;
    this.#options.logger.warn(
      {
        reason: failure.reason,
        err: { message: error.message, code: (error as NodeJS.ErrnoException).code },
        redis: this.address,
        redisUser: this.#credentials?.username,
      },
      'Redis connection error; retrying',
    );
  }
}

interface Credentials {
  readonly username?: string | undefined;
  readonly password: string;
}

function auth({ username, password }: Credentials): Command {
  return username === undefined ? ['AUTH', password] : ['AUTH', username, password];
}

/** Whether the head batch is stuck in a script or a function: what Redis is running for it right now. */
function runningScript(entry: Pending): 'script' | 'function' | undefined {
  // Replies so far say how far Redis got; a transaction runs its scripts when EXEC arrives, so look ahead.
  for (let i = entry.replies.length; i < entry.commands.length; i++) {
    const name = String(entry.commands[i]?.[0]);
    if (SCRIPT_COMMAND.test(name)) return name.toLowerCase().startsWith('fcall') ? 'function' : 'script';
  }
  return undefined;
}

/** A Redis URL safe to log: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
