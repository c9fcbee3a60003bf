import { STATUS_CODES } from 'node:http';
import type { Method, OperationDoc, Route } from '../../http/router.js';
import { VERSION } from '../../version.js';
import { cacheErrorSchema } from '../cache/schemas.js';
import { errorResponseSchema, resultSchema } from '../upstash/schemas.js';

type Json = Record<string, unknown>;

/**
 * The OpenAPI 3.1 document of the gateway, generated from the route table itself, so that no route can go
 * undocumented: every operation with its summary, parameters, body and responses, the methods answered
 * 405, and which routes are public.
 */
export function openapiDocument(routes: readonly Route[]): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    if (route.isHidden) continue;
    const path = route.openapiPath ?? route.path;
    const parameters = [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string' },
      description:
        name === 'key'
          ? 'The key, percent-encoded; any characters, 1 to CACHEGATE_MAX_KEY_BYTES bytes.'
          : 'Percent-encoded; further segments separated by /',
    }));
    const item: Record<string, Json> = {};
    for (const [method, operation] of Object.entries(route.operations)) {
      if (operation) item[method.toLowerCase()] = describe(operation.doc, route, parameters);
    }
    const tags = Object.values(route.operations)[0]?.doc.tags ?? [];
    for (const method of route.documentedNotAllowed ?? []) {
      item[method.toLowerCase()] = notAllowed(route, tags, parameters, method);
    }
    paths[path] = item;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'cachegate',
      version: VERSION,
      description:
        'HTTP gateway in front of Redis. The command routes are compatible with the Upstash Redis REST API; ' +
        'the cache API stores JSON values under /v1/cache.',
    },
    externalDocs: {
      description: 'API details: limits, pipelining, errors',
      url: 'https://github.com/cachegate/cachegate/blob/main/docs/api.md',
    },
    tags: [
      { name: 'commands', description: 'Upstash-compatible Redis REST API' },
      { name: 'cache', description: 'JSON cache API' },
      { name: 'operations', description: 'Health, metrics and this document' },
      { name: 'admin', description: 'Admin tokens only: the hot set of cache warming' },
    ],
    components: {
      schemas: { RedisResult: resultSchema },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        tokenQuery: { type: 'apiKey', in: 'query', name: '_token' },
      },
    },
    security: [{ bearerAuth: [] }, { apiKeyHeader: [] }, { tokenQuery: [] }],
    paths,
  };
}

function describe(doc: OperationDoc, route: Route, pathParameters: Json[]): Json {
  const headers = Object.entries(doc.headers?.properties ?? {}).map(([name, schema]) => ({
    name,
    in: 'header',
    required: false,
    schema,
  }));
  const body = doc.requestBody;
  return {
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: doc.tags,
    ...(route.isPublic ? { security: [] } : {}),
    ...(pathParameters.length + headers.length > 0 ? { parameters: [...pathParameters, ...headers] } : {}),
    ...(body
      ? {
          requestBody: {
            required: true,
            content: {
              [body.format === 'binary' ? 'application/octet-stream' : 'application/json']: { schema: body },
            },
          },
        }
      : {}),
    responses: Object.fromEntries(
      Object.entries(doc.responses).map(([status, response]) => [
        status,
        {
          description: response.description ?? STATUS_CODES[Number(status)] ?? status,
          ...(response.headers ? { headers: response.headers } : {}),
          ...(response.schema
            ? { content: { 'application/json': { schema: response.schema } } }
            : response.contentType
              ? { content: { [response.contentType]: { schema: { type: 'string' } } } }
              : {}),
        },
      ]),
    ),
  };
}

function notAllowed(route: Route, tags: string[], parameters: Json[], method: Method): Json {
  const allow = Object.keys(route.operations).join(', ');
  const schema = route.path.startsWith('/v1/') ? cacheErrorSchema : errorResponseSchema;
  return {
    summary: `Not allowed (use ${allow})`,
    // Marks the catch-all, so that the docs page lists real operations only and says this once in prose.
    'x-cachegate-not-allowed': true,
    tags,
    ...(parameters.length > 0 ? { parameters } : {}),
    responses: {
      405: {
        description: `${method} is not allowed; the Allow header lists ${allow}`,
        content: { 'application/json': { schema } },
      },
    },
  };
}
