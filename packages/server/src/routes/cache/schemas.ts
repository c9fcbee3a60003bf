import type { ResponseDoc } from '../../http/router.js';

/**
 * JSON schemas of the cache API, for the OpenAPI document. Bodies are checked by body.ts, which accepts
 * exactly what these describe.
 */

/** A TTL in seconds. */
export const ttlSchema = { type: 'integer', minimum: 1, description: 'Expiry in seconds' } as const;

/** Any JSON value. */
export const valueSchema = { description: 'Any JSON value' } as const;

export const cacheErrorSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', pattern: '^CG_ERR_[A-Z_]+$' },
        message: { type: 'string' },
        requestId: { type: 'string' },
      },
    },
  },
} as const;

const error = (description: string): ResponseDoc => ({ description, schema: cacheErrorSchema });

/** Responses every cache route can give besides its own. */
export const cacheErrors: Record<number, ResponseDoc> = {
  400: error('Invalid key or body, or Redis refused the command'),
  401: error('Missing or invalid token'),
  403: error('The token may not run this operation'),
  413: error('Body too large'),
  429: error('Rate limit exceeded'),
  503: error('Redis unavailable or too slow, or the gateway overloaded'),
};

/** The 404 of a missing key. */
export const notFound = error('No such key');

export const entrySchema = {
  type: 'object',
  required: ['key', 'value', 'ttl'],
  additionalProperties: false,
  properties: {
    key: { type: 'string' },
    value: valueSchema,
    ttl: { type: ['integer', 'null'], description: 'Seconds left, null when the key never expires' },
  },
} as const;
