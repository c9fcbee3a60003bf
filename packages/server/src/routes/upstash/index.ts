import type { FastifyInstance } from 'fastify';
import commandRoutes from './command.js';
import multiExecRoute from './multi-exec.js';
import pipelineRoute from './pipeline.js';
import subscribeRoutes from './subscribe.js';

/**
 * The Upstash-compatible Redis REST API, served at the root so `@upstash/redis` works with just the URL
 * changed. Bodies are read as raw bytes (any Content-Type), see app.ts.
 */
async function upstashRoutes(app: FastifyInstance) {
  // Bodies arrive as raw bytes and are checked by commandFromBody()/commandsFromBody(); the route schemas describe
  // exactly that check for the OpenAPI document, so Fastify must not validate the Buffer against them.
  app.setValidatorCompiler(() => () => true);
  await app.register(commandRoutes);
  await app.register(pipelineRoute);
  await app.register(multiExecRoute);
  await app.register(subscribeRoutes);
}

export default upstashRoutes;
