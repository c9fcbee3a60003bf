import { gatewayError } from '../../errors.js';
import type { Route } from '../../http/router.js';
import type { Services } from '../services.js';

/**
 * `GET /metrics`, Prometheus text. It needs the main admin token (Prometheus can send one with
 * `authorization: {credentials: ...}`): it names every database and its traffic. With
 * `CACHEGATE_METRICS_PORT` it is served there instead, without a token, and this route says where.
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
          // Every database's names, states and traffic: the operator's, not a tenant's nor an application's.
          if (ctx.caller.scope !== 'admin' || ctx.caller.database !== undefined) {
            throw gatewayError(
              'CG_ERR_COMMAND_DENIED',
              '/metrics needs the main admin token (or CACHEGATE_METRICS_PORT, on a private network)',
            );
          }
          ctx.send(200, await metrics.registry.metrics(), metrics.registry.contentType);
        },
        doc: {
          summary:
            port === undefined ? 'Prometheus metrics (text format)' : 'Not here: see CACHEGATE_METRICS_PORT',
          tags: ['operations'],
          responses: {
            200: { contentType: 'text/plain' },
            401: { description: 'Missing or invalid token' },
            403: { description: 'Not the main admin token' },
          },
        },
      },
    },
  };
}
