import { gatewayError } from '../../errors.js';
import { type BodySource, checkJsonText, parseJsonBody } from '../json-body.js';
import { checkKey } from './key.js';

/** A stored entry as the cache API takes it. */
export interface Entry {
  key: string;
  value: unknown;
  ttl: number | undefined;
}

/** Limits the cache API's bodies are checked against. */
export interface BodyLimits {
  maxKeyBytes: number;
  /** Most keys or entries in one mget/mset (CACHEGATE_MAX_PIPELINE). */
  maxItems: number;
  maxJsonDepth: number;
}

/** `PUT /v1/cache/:key`: `{"value": <any JSON>, "ttl"?: seconds}`. */
export function putBody(body: BodySource, limits: BodyLimits): { value: unknown; ttl: number | undefined } {
  const fields = object(parse(body, limits), ['value', 'ttl'], 'The body');
  return { value: required(fields, 'value', 'The body'), ttl: ttl(fields.ttl, 'ttl') };
}

/** `POST /v1/cache/mget`: `{"keys": [...]}`. */
export function mgetBody(body: BodySource, limits: BodyLimits): string[] {
  const fields = object(parse(body, limits), ['keys'], 'The body');
  return list(required(fields, 'keys', 'The body'), 'keys', limits.maxItems).map((key, i) => {
    if (typeof key !== 'string') invalid(`keys[${i}] must be a string`);
    return checkKey(key, limits.maxKeyBytes);
  });
}

/** `POST /v1/cache/mset`: `{"entries": [{"key", "value", "ttl"?}]}`. */
export function msetBody(body: BodySource, limits: BodyLimits): Entry[] {
  const fields = object(parse(body, limits), ['entries'], 'The body');
  return list(required(fields, 'entries', 'The body'), 'entries', limits.maxItems).map((item, i) => {
    const where = `entries[${i}]`;
    const entry = object(item, ['key', 'value', 'ttl'], where);
    const key = required(entry, 'key', where);
    if (typeof key !== 'string') invalid(`${where}.key must be a string`);
    return {
      key: checkKey(key, limits.maxKeyBytes),
      value: required(entry, 'value', where),
      ttl: ttl(entry.ttl, `${where}.ttl`),
    };
  });
}

function parse(body: BodySource, limits: BodyLimits): unknown {
  const { value, text } = parseJsonBody(body);
  checkJsonText(text, limits.maxJsonDepth);
  return value;
}

function object(value: unknown, allowed: string[], where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    invalid(`${where} must be a JSON object`);
  const fields = value as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!allowed.includes(name))
      invalid(`${where} has an unknown field "${name}"; allowed: ${allowed.join(', ')}`);
  }
  return fields;
}

function required(fields: Record<string, unknown>, name: string, where: string): unknown {
  if (!(name in fields)) invalid(`${where} needs "${name}"`);
  return fields[name];
}

function list(value: unknown, name: string, max: number): unknown[] {
  if (!Array.isArray(value) || value.length === 0) invalid(`"${name}" must be a non-empty array`);
  if (value.length > max)
    invalid(`"${name}" has ${value.length} items; the limit is ${max} (CACHEGATE_MAX_PIPELINE)`);
  return value;
}

function ttl(value: unknown, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    invalid(`${where} must be a whole number of seconds, at least 1`);
  }
  return value;
}

function invalid(message: string): never {
  throw gatewayError('CG_ERR_REQUEST_INVALID', message);
}
