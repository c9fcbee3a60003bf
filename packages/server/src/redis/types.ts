import type { BaseLogger } from 'pino';
import type { ErrorReply } from './resp.js';

/** One argument of a Redis command: text, or raw bytes (path-form request bodies). */
export type Arg = string | Buffer;

/** A Redis command line, name first: `['SET', 'k', 'v', 'EX', '60']`. */
export type Command = Arg[];

/**
 * A RESP2 reply as the gateway receives it: bulk strings as Buffers (byte-exact), status replies as strings,
 * integers as numbers (BigInt past 2^53), nil as null, Redis errors as ErrorReply (inside arrays too: a
 * transaction's failed command, a script's error table).
 */
export type Reply = string | number | bigint | Buffer | null | ErrorReply | Reply[];

/**
 * How a batch wants its replies: `bytes`, bulk strings as Buffers; `text`, as UTF-8 strings (the replies
 * only become JSON text, so no Buffer is made per value); `resp2`, as Buffers with a nil array kept apart
 * from a nil string ({@link NIL_ARRAY}), so the reply re-encodes to the bytes Redis sent.
 */
export type ReplyForm = 'bytes' | 'text' | 'resp2';

/** Credentials of a Redis ACL user that a token's commands run as. */
export interface RedisUser {
  readonly username: string;
  readonly password: string;
}

/** The name of the main Redis (CACHEGATE_REDIS_URL, Sentinel, Cluster or embedded) in metrics and health. */
export const DEFAULT_DATABASE = 'default';

/**
 * A Redis of its own for some tokens (a tokens-file entry's `redisUrl`): a standalone server, connected on
 * first use. Holds credentials: its `toJSON` shows only the name, so a logged principal leaks nothing.
 */
export interface DatabaseSettings {
  /** The database's name, for metrics, health and logs (never its URL). */
  readonly name: string;
  /** `redis[s]://[user[:password]@]host[:port][/db]`: the gateway's own login there. */
  readonly url: string;
  /** Password when it is not in the URL. */
  readonly password?: string | undefined;
  /** PEM CA bundle that signs the server's certificate, for `rediss://`. */
  readonly tlsCa?: Buffer | undefined;
  /** Equal exactly when the connection settings are equal (a digest: it holds no secret). */
  readonly key: string;
  toJSON(): { name: string };
}

/** Identifies the connections of one Redis user ('' for the gateway's own credentials). */
export function userKey(user: RedisUser | undefined): string {
  return user === undefined ? '' : `${user.username}\0${user.password}`;
}

/** What the Redis layer logs with: any pino-style logger (Fastify's included). */
export type Logger = Pick<BaseLogger, 'error' | 'warn' | 'info' | 'debug'>;
