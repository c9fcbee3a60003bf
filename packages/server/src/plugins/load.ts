import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { gatewayError } from '../errors.js';

/** How often the event-loop delay is sampled and the overload decision refreshed. */
const SAMPLE_INTERVAL_MS = 500;

/**
 * Backpressure. Past `CACHEGATE_MAX_IN_FLIGHT` requests in flight, or while the event loop lags more than
 * `CACHEGATE_MAX_EVENT_LOOP_DELAY_MS`, new requests are answered `503` + `Retry-After` at once instead of
 * queueing without bound; requests already admitted finish normally. Public routes (health) are never shed,
 * so probes keep telling the truth.
 */
async function loadPlugin(app: FastifyInstance) {
  const { maxInFlight, maxEventLoopDelayMs } = app.config;
  let loopLagging = false;

  if (maxEventLoopDelayMs > 0) {
    const histogram = monitorEventLoopDelay({ resolution: 20 });
    histogram.enable();
    let lastTick = performance.now();
    const timer = setInterval(() => {
      // This callback is itself delayed by a blocked loop; that drift catches a stall the histogram has not
      // recorded yet. Either one past the bound sheds load for the next interval.
      const now = performance.now();
      const driftMs = now - lastTick - SAMPLE_INTERVAL_MS;
      lastTick = now;
      loopLagging = Math.max(driftMs, histogram.percentile(99) / 1e6) > maxEventLoopDelayMs;
      histogram.reset();
    }, SAMPLE_INTERVAL_MS);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      histogram.disable();
    });
  }

  app.addHook('onRequest', (request, _reply, done) => {
    if (request.routeOptions.config.public) return done();
    // The count includes this request.
    if (app.inFlight() > maxInFlight) {
      return done(
        gatewayError(
          'CG_ERR_OVERLOADED',
          `Too many requests in flight (CACHEGATE_MAX_IN_FLIGHT=${maxInFlight})`,
        ),
      );
    }
    if (loopLagging) {
      return done(
        gatewayError(
          'CG_ERR_OVERLOADED',
          'The gateway is overloaded (event loop delay over CACHEGATE_MAX_EVENT_LOOP_DELAY_MS)',
        ),
      );
    }
    done();
  });
}

export default fp(loadPlugin, { name: 'load', dependencies: ['in-flight'] });
