import { gatewayError } from '../../errors.js';
import type { Route } from '../../http/router.js';
import type { Services } from '../services.js';

/**
 * `GET /metrics`, Prometheus text. It needs a token of any scope (Prometheus can send one with
 * `authorization: {credentials: ...}`); with `CACHEGATE_METRICS_PORT` it is served there instead, without
 * a token, and this route says where.
 */
export function metricsRoute({ config, metrics }: Services): Route {
  const port = config.metricsPort;
  return {
    path: '/metrics',
    operations: {
      GET: {
        handle: async (ctx) => {
          if (port !== undefined) {
            throw gatewayError(
              'CG_ERR_ROUTE_NOT_FOUND',
              `Metrics are served on port ${port} (CACHEGATE_METRICS_PORT)`,
            );
          }
          ctx.send(200, await metrics.registry.metrics(), metrics.registry.contentType);
        },
        doc: {
          summary:
            port === undefined ? 'Prometheus metrics (text format)' : 'Not here: see CACHEGATE_METRICS_PORT',
          tags: ['operations'],
          responses: { 200: { contentType: 'text/plain' }, 401: { description: 'Missing or invalid token' } },
        },
      },
    },
  };
}
