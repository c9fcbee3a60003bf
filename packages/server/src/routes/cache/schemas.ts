/** JSON schemas of the cache API: its bodies are validated against these, and the OpenAPI document shows them. */

export const keyParams = {
  type: 'object',
  properties: {
    key: {
      type: 'string',
      description: 'The key, percent-encoded; any characters, 1 to CACHEGATE_MAX_KEY_BYTES bytes.',
    },
  },
} as const;

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

const error = (description: string) => ({ description, ...cacheErrorSchema });

/** Responses every cache route can give besides its own. */
export const cacheErrors = {
  400: error('Invalid key or body, or Redis refused the command'),
  401: error('Missing or invalid token'),
  403: error('The token may not run this operation'),
  413: error('Body too large'),
  429: error('Rate limit exceeded'),
  503: error('Redis unavailable or too slow, or the gateway overloaded'),
} as const;

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
