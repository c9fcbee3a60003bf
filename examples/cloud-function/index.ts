/**
 * A Google Cloud Function (HTTP, Functions Framework style) that caches a slow lookup with the hybrid
 * client: through the cachegate gateway normally, straight to Redis while the gateway is down.
 *
 * Deploy with the Functions Framework by registering the handler:
 *   import * as functions from '@google-cloud/functions-framework';
 *   import { product } from './index.js';
 *   functions.http('product', product);
 * and the environment CACHEGATE_URL, CACHEGATE_TOKEN and CACHEGATE_REDIS_URL (or the seed's names
 * REDIS_SERVICE_URL, REDIS_SERVICE_API_KEY and REDIS_URL).
 */
import { createHybridClient, type HybridClient } from '@cachegate/client/node';

/** The part of the Express request the Functions Framework passes that this function reads. */
export interface FunctionRequest {
  method: string;
  query: Record<string, unknown>;
}

/** The part of the Express response this function writes. */
export interface FunctionResponse {
  status(code: number): FunctionResponse;
  set(field: string, value: string): FunctionResponse;
  json(body: unknown): unknown;
}

/** A product as the (slow) database returns it. */
export interface Product {
  id: string;
  name: string;
  price: number;
}

/** What the handler needs; tests inject their own, production uses {@link product}. */
export interface ProductDeps {
  cache: HybridClient;
  loadProduct(id: string): Promise<Product | null>;
}

/**
 * Builds the handler: `GET ?id=42` answers the product, cached for 60 s and served stale for up to 5 more
 * minutes while one refresh runs, and counts the product's views.
 */
export function createProductHandler(deps: ProductDeps) {
  return async (req: FunctionRequest, res: FunctionResponse): Promise<void> => {
    if (req.method !== 'GET') {
      res.status(405).set('allow', 'GET').json({ error: 'Use GET' });
      return;
    }
    const id = typeof req.query.id === 'string' ? req.query.id : '';
    if (!/^[\w-]{1,64}$/.test(id)) {
      res.status(400).json({ error: 'Pass ?id=<product id>' });
      return;
    }
    try {
      // Issued together, the two commands share one request to the gateway.
      const [item, views] = await Promise.all([
        deps.cache.getOrSet(`product:${id}`, () => deps.loadProduct(id), {
          ttl: 60,
          staleWhileRevalidate: 300,
        }),
        deps.cache.incr(`product:${id}:views`).catch(() => null),
      ]);
      if (item === null) {
        res.status(404).json({ error: `No product ${id}` });
        return;
      }
      res.status(200).json({ product: item, views, servedVia: deps.cache.activeTransport });
    } catch (error) {
      res
        .status(503)
        .json({ error: 'Cache and database unavailable', code: (error as { code?: string }).code });
    }
  };
}

/** Stands in for the real database: slow on purpose, which is why the function caches. */
async function loadProductFromDatabase(id: string): Promise<Product | null> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return id === 'missing' ? null : { id, name: `Product ${id}`, price: 9.99 };
}

// One client per function instance: created on the first invocation and reused by the next ones, so only
// a cold start pays for it. Configured from the environment.
let client: HybridClient | undefined;
let handler: ReturnType<typeof createProductHandler> | undefined;

/** The deployed function. */
export function product(req: FunctionRequest, res: FunctionResponse): Promise<void> {
  client ??= createHybridClient({
    onFallback: (error) => console.warn(`cachegate unavailable, using Redis directly: ${error.message}`),
    onRecover: ({ unavailableForMs }) => console.info(`cachegate back after ${unavailableForMs} ms`),
  });
  handler ??= createProductHandler({ cache: client, loadProduct: loadProductFromDatabase });
  return handler(req, res);
}

/** Releases the instance's Redis connection (tests; Cloud Functions simply freeze the instance). */
export async function shutdown(): Promise<void> {
  await client?.close();
  client = undefined;
  handler = undefined;
}
