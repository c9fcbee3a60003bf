/**
 * What kind of trouble a Redis connection is in:
 * - `credentials`: Redis refused the login (wrong password or user, or a password it does not expect);
 * - `unreachable`: no connection (refused, unknown host, no route, reset);
 * - `timeout`: no answer to the connection attempt in time;
 * - `tls`: the TLS handshake failed (certificate not trusted, not a TLS server);
 * - `other`: anything else (a protocol error, a refused SELECT, Redis loading its data).
 */
export type FailureKind = 'credentials' | 'unreachable' | 'timeout' | 'tls' | 'other';

/** Why a connection to Redis failed, in words safe to show anyone. */
export interface RedisFailure {
  readonly kind: FailureKind;
  /**
   * Fixed words with the error's code, e.g. `Redis refused the username or password (WRONGPASS)`: never the
   * error's message, which may name addresses, users or (in a reply echoing a command) a password.
   */
  readonly reason: string;
}

/** Redis error replies by their first word (the code Redis puts first). */
const REPLY_REASONS: [RegExp, FailureKind, string][] = [
  [/^WRONGPASS\b/, 'credentials', 'Redis refused the username or password (WRONGPASS)'],
  [/^NOAUTH\b/, 'credentials', 'Redis requires a password and none was sent (NOAUTH)'],
  [/^ERR invalid password\b/i, 'credentials', 'Redis refused the password (ERR invalid password)'],
  // Redis 6+ / 5: a password was sent to a server that has none.
  [
    /^ERR (AUTH .*without any password|Client sent AUTH, but no password)/i,
    'credentials',
    'a password was sent but Redis has none set (ERR AUTH)',
  ],
  [/^NOPERM\b/, 'credentials', 'the Redis user lacks a permission the gateway needs (NOPERM)'],
  [
    /^ERR (DB index is out of range|invalid DB index)/i,
    'other',
    'the database number in the Redis URL does not exist (ERR DB index)',
  ],
  [/^LOADING\b/, 'other', 'Redis is loading its data set (LOADING)'],
  [/^MASTERDOWN\b/, 'other', 'the replica has lost its master (MASTERDOWN)'],
];

/** Errors of node's socket layer, by `code`. */
const CODE_REASONS: Record<string, [FailureKind, string]> = {
  ECONNREFUSED: ['unreachable', 'connection refused'],
  ECONNRESET: ['unreachable', 'connection reset'],
  EPIPE: ['unreachable', 'connection reset'],
  ENOTFOUND: ['unreachable', 'host name not found'],
  EAI_AGAIN: ['unreachable', 'host name lookup failed'],
  EHOSTUNREACH: ['unreachable', 'host unreachable'],
  ENETUNREACH: ['unreachable', 'network unreachable'],
  EADDRNOTAVAIL: ['unreachable', 'address not available'],
  ETIMEDOUT: ['timeout', 'no answer to the connection attempt in time'],
  CERT_HAS_EXPIRED: ['tls', 'TLS: the server certificate has expired'],
  CERT_NOT_YET_VALID: ['tls', 'TLS: the server certificate is not valid yet'],
  DEPTH_ZERO_SELF_SIGNED_CERT: ['tls', 'TLS: the server certificate is self-signed and not trusted'],
  SELF_SIGNED_CERT_IN_CHAIN: ['tls', 'TLS: the server certificate chain is not trusted'],
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: ['tls', 'TLS: the server certificate is not trusted'],
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: ['tls', 'TLS: the server certificate is not trusted'],
  ERR_TLS_CERT_ALTNAME_INVALID: ['tls', 'TLS: the server certificate does not name this host'],
  ERR_SSL_WRONG_VERSION_NUMBER: ['tls', 'TLS handshake failed: the server does not speak TLS on this port'],
  ERR_TLS_HANDSHAKE_TIMEOUT: ['tls', 'TLS handshake failed: no answer in time (does the server speak TLS?)'],
};

/** A code made of capitals, digits and underscores is a code, not a sentence: safe to show. */
const SAFE_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

/**
 * The failure behind `error`, in fixed words: Redis's refusals by their reply code, socket and TLS errors by
 * their `code`. The reason is safe for the public `/health`; logs carry it beside the error itself.
 */
export function describeFailure(error: Error): RedisFailure {
  if (error.name === 'ErrorReply') {
    for (const [pattern, kind, reason] of REPLY_REASONS) {
      if (pattern.test(error.message)) return { kind, reason };
    }
    const code = error.message.split(' ', 1)[0] ?? '';
    return { kind: 'other', reason: `Redis refused (${SAFE_CODE.test(code) ? code : 'an error reply'})` };
  }
  if (error.name === 'ProtocolError') return { kind: 'other', reason: 'unreadable reply (protocol error)' };
  // During the login: a TLS-only port drops a plain-text client this way.
  if (error.name === 'ConnectionLostError') {
    return {
      kind: 'unreachable',
      reason: 'Redis closed the connection during the login (a TLS port needs rediss://)',
    };
  }
  if (error.name === 'ReplyTimeoutError')
    return { kind: 'timeout', reason: 'no answer to the login in time' };
  const code = (error as NodeJS.ErrnoException).code;
  if (code === undefined || !SAFE_CODE.test(code)) return { kind: 'other', reason: 'connection error' };
  const known = CODE_REASONS[code];
  if (known !== undefined) return { kind: known[0], reason: `${known[1]} (${code})` };
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.includes('CERT')) {
    return { kind: 'tls', reason: `TLS handshake failed (${code})` };
  }
  return { kind: 'other', reason: `connection error (${code})` };
}
