import type { RequestContext } from './context.js';

/** The methods a route may serve. HEAD is served as GET on public routes only (see the adapter). */
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** The OpenAPI description of one operation, minus what the route table supplies itself. */
export interface OperationDoc {
  summary: string;
  description?: string;
  tags: string[];
  /** JSON schema of a JSON body, or `{ type: 'string', format: 'binary' }` for raw bytes. */
  requestBody?: Record<string, unknown>;
  /** Request headers the operation reads, as a JSON schema of an object. */
  headers?: { properties: Record<string, Record<string, unknown>> };
  /** Responses by status: a description and, for JSON, a schema; `contentType` for anything else. */
  responses: Record<number, ResponseDoc>;
}

export interface ResponseDoc {
  description?: string;
  schema?: Record<string, unknown>;
  contentType?: string;
  /** Response headers worth documenting (ETag), by name: a description and a JSON schema. */
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
}

/** Serves one method of a route. Answers through `ctx`; a thrown or rejected error is answered for it. */
export type Handler = (ctx: RequestContext) => Promise<void> | void;

export interface Operation {
  readonly handle: Handler;
  readonly doc: OperationDoc;
}

/** One entry of the route table. */
export interface Route {
  /** Exact (`/pipeline`), or a prefix ending in `*` (`/v1/cache/*`) that matches the rest of the path. */
  readonly path: string;
  readonly operations: Partial<Record<Method, Operation>>;
  /** Served without a token, never shed under load (health probes, the API document). */
  readonly isPublic?: boolean;
  /** Left out of the API document (the docs page itself). */
  readonly isHidden?: boolean;
  /**
   * Methods answered 405 here rather than by a prefix route that would serve them (`GET /` is a 405, not
   * the path-form command at `/*`).
   */
  readonly documentedNotAllowed?: Method[];
  /** The path as the API document shows it, for prefix routes: `/v1/cache/{key}`. */
  readonly openapiPath?: string;
}

/**
 * The route table: exact paths in a map, prefix routes longest first. Paths are matched raw (before
 * percent-decoding), so `%2F` inside a key or argument never splits a segment.
 */
export class Router {
  readonly #exact = new Map<string, Route>();
  readonly #prefixes: Route[] = [];

  constructor(routes: Iterable<Route>) {
    for (const route of routes) {
      if (route.path.endsWith('*')) this.#prefixes.push(route);
      else this.#exact.set(route.path, route);
    }
    this.#prefixes.sort((a, b) => b.path.length - a.path.length);
  }

  /**
   * The route and operation serving `method` on `path` (raw, no query string): the exact route if it
   * serves the method (or lists it as not allowed: `GET /` is a 405), else the longest matching prefix
   * route (so `GET /v1/cache/mget` reads the key "mget"). A route that matches without serving the method
   * comes back without an operation: a 405. HEAD is GET on public routes.
   */
  match(path: string, method: string): { route: Route; operation: Operation | undefined } | undefined {
    let first: Route | undefined;
    const exact = this.#exact.get(path);
    if (exact !== undefined) {
      const operation = operationOf(exact, method);
      if (operation !== undefined || exact.documentedNotAllowed?.includes(method as Method)) {
        return { route: exact, operation };
      }
      first = exact;
    }
    const prefix = this.#prefixes.find((route) => path.startsWith(route.path.slice(0, -1)));
    if (prefix !== undefined) {
      const operation = operationOf(prefix, method);
      if (operation !== undefined || first === undefined) return { route: prefix, operation };
    }
    return first === undefined ? undefined : { route: first, operation: undefined };
  }

  /** Every route, for the API document. */
  get routes(): Route[] {
    return [...this.#exact.values(), ...this.#prefixes];
  }
}

function operationOf(route: Route, method: string): Operation | undefined {
  return route.operations[(method === 'HEAD' && route.isPublic ? 'GET' : method) as Method];
}
