import type { FastifyInstance } from 'fastify';
import { registerBatchRoute } from './batch-route.js';

/**
 * `POST /pipeline`: many commands in one request, sent to Redis back to back without waiting in between.
 * Not atomic: each command succeeds or fails on its own, and a failure never stops the rest.
 */
async function pipelineRoute(app: FastifyInstance) {
  registerBatchRoute(app, '/pipeline', 'pipeline', 'Run many commands, pipelined');
}

export default pipelineRoute;
