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
