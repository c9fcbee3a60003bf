import type { FastifyInstance } from 'fastify';
import { registerBatchRoute } from './batch-route.js';

/**
 * `POST /multi-exec`: the commands run atomically inside MULTI/EXEC. The gateway writes the whole block in
 * one go on its connection, so concurrent transactions never interleave or nest. Commands that fail at run
 * time are `{"error"}` items; a transaction Redis discards (EXECABORT) is a 400 for the whole request.
 */
async function multiExecRoute(app: FastifyInstance) {
  registerBatchRoute(app, '/multi-exec', 'transaction', 'Run many commands atomically (MULTI/EXEC)');
}

export default multiExecRoute;
