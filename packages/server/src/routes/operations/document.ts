import type { RequestContext } from '../../http/context.js';
import type { Route } from '../../http/router.js';
import { docsPage } from './docs-page.js';
import { openapiDocument } from './openapi.js';

/**
 * The API document and its reference page, both public (they describe the API and hold no data), both built
 * from the route table on first request and kept:
 * - `GET /openapi.json`, OpenAPI 3.1;
 * - `GET /docs`, a static HTML reference of every operation (decision 0010: no client-side framework).
 */
export function documentRoutes(routes: () => readonly Route[]): Route[] {
  let json: string | undefined;
  let html: string | undefined;
  const documentJson = () => {
    json ??= JSON.stringify(openapiDocument(routes()));
    return json;
  };
  const page = (ctx: RequestContext) => {
    html ??= docsPage(JSON.parse(documentJson()));
    ctx.send(200, html, 'text/html; charset=utf-8');
  };
  const tags = ['operations'];
  return [
    {
      path: '/openapi.json',
      isPublic: true,
      operations: {
        GET: {
          handle: (ctx) => ctx.send(200, documentJson()),
          doc: {
            summary: 'This OpenAPI document',
            tags,
            responses: { 200: { schema: { type: 'object', description: 'An OpenAPI 3.1 document' } } },
          },
        },
      },
    },
    ...['/docs', '/docs/'].map((path) => ({
      path,
      isPublic: true,
      isHidden: true,
      operations: {
        GET: {
          handle: page,
          doc: { summary: 'API reference page', tags, responses: { 200: { contentType: 'text/html' } } },
        },
      },
    })),
  ];
}
