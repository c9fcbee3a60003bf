import type { ResponseDoc } from '../http/router.js';

/**
 * API-document fragments of the conditional GET routes (the path form and `GET /v1/cache/{key}`), which
 * answer through `ctx.sendValidated`.
 */

/** Response headers a validated 200 and its 304 carry. */
export const validatorHeaders: NonNullable<ResponseDoc['headers']> = {
  ETag: {
    description: 'Strong validator: a quoted SHA-1 (base64url) of the 200 body bytes',
    schema: { type: 'string' },
  },
  'Cache-Control': {
    description: 'private, no-cache: no shared cache may store it; a private one revalidates first',
    schema: { type: 'string' },
  },
};

/** The `If-None-Match` request header, as an operation's `headers` entry. */
export const ifNoneMatchHeader = {
  'if-none-match': {
    type: 'string',
    description:
      'One or more ETags (W/ ignored) or *: when one matches the current answer, 304 with no body instead of 200.',
  },
};

/** Adds the validators to a 200 and documents the 304. */
export function withValidators(responses: Record<number, ResponseDoc>): Record<number, ResponseDoc> {
  const ok = responses[200];
  return {
    ...responses,
    200: { ...ok, headers: validatorHeaders },
    304: { description: 'Not Modified: If-None-Match matched; no body', headers: validatorHeaders },
  };
}
