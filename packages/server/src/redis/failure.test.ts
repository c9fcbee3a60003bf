import { describe, expect, it } from 'vitest';
import { describeFailure } from './failure.js';
import { ErrorReply } from './resp.js';

const socketError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('describeFailure', () => {
  it('names refused logins by the code Redis puts first, never by the rest of the reply', () => {
    expect(
      describeFailure(new ErrorReply('WRONGPASS invalid username-password pair or user is disabled.')),
    ).toEqual({
      kind: 'credentials',
      reason: 'Redis refused the username or password (WRONGPASS)',
    });
    expect(describeFailure(new ErrorReply('NOAUTH Authentication required.')).kind).toBe('credentials');
    expect(
      describeFailure(
        new ErrorReply('ERR AUTH <password> called without any password configured for the default user.'),
      ),
    ).toEqual({ kind: 'credentials', reason: 'a password was sent but Redis has none set (ERR AUTH)' });
    // An unknown reply keeps its code only: the message could echo what was sent.
    expect(describeFailure(new ErrorReply('ERR something about s3cret-value'))).toEqual({
      kind: 'other',
      reason: 'Redis refused (ERR)',
    });
  });

  it('names socket and TLS errors by their code, without the address the message carries', () => {
    expect(describeFailure(socketError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.3:6379'))).toEqual({
      kind: 'unreachable',
      reason: 'connection refused (ECONNREFUSED)',
    });
    expect(describeFailure(socketError('ENOTFOUND', 'getaddrinfo ENOTFOUND redis.internal')).reason).toBe(
      'host name not found (ENOTFOUND)',
    );
    expect(describeFailure(socketError('CERT_HAS_EXPIRED', 'certificate has expired')).kind).toBe('tls');
    expect(describeFailure(socketError('ERR_SSL_DECRYPTION_FAILED', 'x')).reason).toBe(
      'TLS handshake failed (ERR_SSL_DECRYPTION_FAILED)',
    );
    expect(describeFailure(socketError('not a code', 'at 10.0.0.3')).reason).toBe('connection error');
    expect(describeFailure(new Error('connecting to 10.0.0.3 failed')).reason).toBe('connection error');
  });
});
