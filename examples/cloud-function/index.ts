/**
 * A Google Cloud Function (HTTP, with the Functions Framework) that caches a slow lookup through the
 * cachegate gateway and, given a Redis URL, the hybrid client's fallback: straight to Redis while the gateway
 * is down.
 *
 * It registers itself as the function `product`; README.md says how to run it locally and deploy it. It is
 * configured by the environment: CACHEGATE_URL and CACHEGATE_TOKEN, and for the fallback CACHEGATE_REDIS_URL
 * (or the seed's names REDIS_SERVICE_URL, REDIS_SERVICE_API_KEY and REDIS_URL).
 */
import { Cachegate } from '@cachegate/client';
import { createHybridClient, type HybridClient } from '@cachegate/client/node';
import * as functions from '@google-cloud/functions-framework';

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

/** Either client of the SDK: the hybrid one falls back to Redis, the other speaks HTTP only. */
export type CacheClient = HybridClient | Cachegate;

/** What the handler needs; tests inject their own, production uses {@link product}. */
export interface ProductDeps {
  cache: CacheClient;
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
      const servedVia = 'activeTransport' in deps.cache ? deps.cache.activeTransport : 'http';
      res.status(200).json({ product: item, views, servedVia });
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
let client: CacheClient | undefined;
let handler: ReturnType<typeof createProductHandler> | undefined;

/** The hybrid client when a Redis URL is set for the fallback, else the HTTP-only one. */
function createClient(): CacheClient {
  if (process.env.CACHEGATE_REDIS_URL === undefined && process.env.REDIS_URL === undefined) {
    return Cachegate.fromEnv();
  }
  return createHybridClient({
    onFallback: (error) => console.warn(`cachegate unavailable, using Redis directly: ${error.message}`),
    onRecover: ({ unavailableForMs }) => console.info(`cachegate back after ${unavailableForMs} ms`),
  });
}

/** The deployed function. */
export function product(req: FunctionRequest, res: FunctionResponse): Promise<void> {
  client ??= createClient();
  handler ??= createProductHandler({ cache: client, loadProduct: loadProductFromDatabase });
  return handler(req, res);
}

functions.http('product', product);

/** Releases the instance's Redis connection (tests; Cloud Functions simply freeze the instance). */
export async function shutdown(): Promise<void> {
  await client?.close();
  client = undefined;
  handler = undefined;
}
