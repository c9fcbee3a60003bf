import { STATUS_CODES } from 'node:http';
import type { OperationDoc, Route } from '../../http/router.js';
import { VERSION } from '../../version.js';
import { resultSchema } from '../upstash/schemas.js';

type Json = Record<string, unknown>;

/**
 * The OpenAPI 3.1 document of the gateway, generated from the route table itself, so that no route can go
 * undocumented: every operation with its summary, parameters, body and responses, and which routes are
 * public. Methods a path does not serve are no operations (a generated client would grow a method for
 * each): the 405 they get is said once, in `info.description`.
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
    paths[path] = item;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'cachegate',
      version: VERSION,
      description:
        'HTTP gateway in front of Redis. The command routes are compatible with the Upstash Redis REST API; ' +
        'the cache API stores JSON values under /v1/cache. A method a path does not serve gets 405 with an ' +
        'Allow header naming those it does.',
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
