import type { ResponseDoc } from '../../http/router.js';

/**
 * JSON schemas of the Upstash-compatible routes, for the OpenAPI document. Bodies are parsed from raw bytes
 * and checked by `commandFromBody`/`commandsFromBody` (wire.ts); these schemas state exactly what those accept.
 */

/** A command argument: sent to Redis as its text. */
const arg = { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] } as const;

/** `["SET", "key", "value", "EX", 60]` */
export const commandSchema = {
  type: 'array',
  minItems: 1,
  items: arg,
  description: 'A Redis command, name first; arguments may be strings, numbers or booleans.',
  examples: [['SET', 'key', 'value', 'EX', 60]],
} as const;

/** A RESP2-shaped reply: strings (base64 with `Upstash-Encoding: base64`), integers, null, nested arrays. */
export const resultSchema = {
  anyOf: [
    { type: 'string' },
    { type: 'integer' },
    { type: 'null' },
    { type: 'array', items: { $ref: '#/components/schemas/RedisResult' } },
  ],
} as const;

export const singleResponseSchema = {
  type: 'object',
  required: ['result'],
  additionalProperties: false,
  properties: { result: { $ref: '#/components/schemas/RedisResult' } },
} as const;

export const errorResponseSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: { error: { type: 'string' } },
} as const;

/** One item per command, in order: exactly one of `result` and `error`. */
export const itemsResponseSchema = {
  type: 'array',
  items: { oneOf: [singleResponseSchema, errorResponseSchema] },
} as const;

const maxPipelineNote = 'At most CACHEGATE_MAX_PIPELINE commands (413 past it).';

export const commandListSchema = {
  type: 'array',
  items: commandSchema,
  description: maxPipelineNote,
} as const;

/** Responses every command route can give besides its 200. */
export const commonResponses: Record<number, ResponseDoc> = {
  400: { description: 'Malformed request, or Redis refused the command', schema: errorResponseSchema },
  401: { description: 'Missing or invalid token', schema: errorResponseSchema },
  403: { description: 'Denied by the command policy', schema: errorResponseSchema },
  413: { description: 'Body or pipeline too large', schema: errorResponseSchema },
  429: { description: 'Rate limit exceeded', schema: errorResponseSchema },
  503: {
    description: 'Redis unavailable or too slow, or the gateway overloaded',
    schema: errorResponseSchema,
  },
};

export const encodingHeader = {
  properties: {
    'upstash-encoding': {
      type: 'string',
      enum: ['base64'],
      description: 'Encode every string of the result as base64 of its exact bytes.',
    },
    'upstash-response-format': {
      type: 'string',
      enum: ['json', 'resp2'],
      description:
        'resp2: the raw RESP2 reply bytes (application/octet-stream), back to back for /pipeline; ' +
        'not with Upstash-Encoding: base64. /multi-exec always answers JSON.',
    },
  },
};
