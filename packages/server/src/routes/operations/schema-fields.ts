type Json = Record<string, unknown>;

/** One row of a schema as the docs page shows it: where the field is, its type, and what it means. */
export interface FieldRow {
  /** `key`, `redis.status`, `entries[].value`; empty for the body itself. */
  name: string;
  /** `string`, `integer or null`, `"ok" or "unavailable"`, `array of string, number or boolean`... */
  type: string;
  isRequired: boolean;
  /** The schema's description, then its example, if any. */
  about: string;
}

/** Nested objects deeper than this are shown as `object` rather than their fields. */
const MAX_DEPTH = 3;

/**
 * Flattens a JSON schema into rows a person reads at a glance: one per field, nested objects as dotted
 * names, arrays of objects as `name[].field`, unions and enums in words. A reference to a component schema
 * is named (`RedisResult`), not followed.
 */
export function schemaFields(schema: Json, name = '', isRequired = true, depth = 0): FieldRow[] {
  const here: FieldRow = { name, type: typeOf(schema), isRequired, about: aboutOf(schema) };
  const properties = schema.properties as Record<string, Json> | undefined;
  if (properties !== undefined && depth < MAX_DEPTH) {
    const required = new Set((schema.required as string[] | undefined) ?? []);
    const rows = Object.entries(properties).flatMap(([key, property]) =>
      schemaFields(property, name === '' ? key : `${name}.${key}`, required.has(key), depth + 1),
    );
    // The object itself needs no row of its own, unless it is described or is the whole body.
    return here.about !== '' || name === '' ? [here, ...rows] : rows;
  }
  const items = schema.items as Json | undefined;
  if (schema.type === 'array' && items?.properties !== undefined && depth < MAX_DEPTH) {
    return [here, ...schemaFields(items, `${name}[]`, true, depth + 1).slice(1)];
  }
  return [here];
}

/** A schema's type in words: `integer or null`, `"up" or "down"`, `array of string or number`, `RedisResult`. */
export function typeOf(schema: Json): string {
  const ref = schema.$ref;
  if (typeof ref === 'string') return ref.slice(ref.lastIndexOf('/') + 1);
  const enumerated = schema.enum as unknown[] | undefined;
  if (enumerated !== undefined) return words(enumerated.map((value) => JSON.stringify(value)));
  const union = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (union !== undefined) return words(union.map(typeOf));
  const type = schema.type;
  if (Array.isArray(type)) return words(type.map(String));
  if (type === 'array') {
    const items = schema.items as Json | undefined;
    return items === undefined ? 'array' : `array of ${typeOf(items)}`;
  }
  if (type === 'string' && schema.format === 'binary') return 'bytes';
  // An object shows its fields' names, so that a union of objects reads `{result} or {error}`.
  const properties = schema.properties as Json | undefined;
  if (type === 'object' && properties !== undefined) return `{${Object.keys(properties).join(', ')}}`;
  if (typeof type === 'string') return type;
  return 'any JSON';
}

function aboutOf(schema: Json): string {
  const description = typeof schema.description === 'string' ? schema.description : '';
  const examples = schema.examples as unknown[] | undefined;
  const example = examples?.[0] ?? schema.example;
  if (example === undefined) return description;
  return `${description}${description === '' ? '' : ' '}Example: ${JSON.stringify(example)}`;
}

function words(parts: string[]): string {
  const unique = [...new Set(parts)];
  return unique.length <= 1 ? (unique[0] ?? '') : `${unique.slice(0, -1).join(', ')} or ${unique.at(-1)}`;
}
