import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { resultSchema } from '../routes/upstash/schemas.js';
import { VERSION } from '../version.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered after this plugin: method, URL pattern, and whether the document hides it. */
    routeInventory: { method: string; url: string; hidden: boolean }[];
  }
}

/** Readable OpenAPI paths for the wildcard routes. */
export const OPENAPI_PATHS: Readonly<Record<string, string>> = {
  '/*': '/{command}',
  '/v1/cache/*': '/v1/cache/{key}',
  '/subscribe/*': '/subscribe/{channel}',
  '/psubscribe/*': '/psubscribe/{pattern}',
};

/**
 * The OpenAPI 3.1 document at `GET /openapi.json`, generated from the schemas each route declares, and an
 * interactive page (Swagger UI) at `/docs`. Both are public: they describe the API and hold no data.
 * Must be registered before the routes, which it collects as they are added.
 */
async function openapiPlugin(app: FastifyInstance) {
  app.addSchema(resultSchema);
  app.decorate('routeInventory', []);
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...route.config, public: true };
    for (const method of [route.method].flat()) {
      app.routeInventory.push({ method, url: route.url, hidden: route.schema?.hide === true });
    }
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'cachegate',
        version: VERSION,
        description:
          'HTTP gateway in front of Redis. The command routes are compatible with the Upstash Redis REST API; ' +
          'the cache API stores JSON values under /v1/cache. See docs/api.md.',
      },
      tags: [
        { name: 'commands', description: 'Upstash-compatible Redis REST API' },
        { name: 'cache', description: 'JSON cache API' },
        { name: 'operations', description: 'Health, metrics and this document' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          tokenQuery: { type: 'apiKey', in: 'query', name: '_token' },
        },
      },
      security: [{ bearerAuth: [] }, { apiKeyHeader: [] }, { tokenQuery: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    transform: ({ schema, url, route }) => ({
      schema: route.config?.public ? { ...schema, security: [] } : schema,
      url: OPENAPI_PATHS[url] ?? url,
    }),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get(
    '/openapi.json',
    { config: { public: true }, schema: { summary: 'This OpenAPI document', tags: ['operations'] } },
    async () => app.swagger(),
  );
}

export default fp(openapiPlugin, { name: 'openapi' });
