import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { gatewayError } from '../errors.js';
import type { Principal } from '../redis/policy.js';

/**
 * Resolves the caller's token to a principal before the body is read, so unauthenticated requests cost
 * nothing. Accepted, in order: `Authorization: Bearer <token>`, `X-API-Key: <token>`, `?_token=<token>`.
 * Routes with `config.public` (health probes) and CORS preflights skip it.
 */
async function authPlugin(app: FastifyInstance) {
  app.decorateRequest('principal', undefined as unknown as Principal);
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.routeOptions.config.public || request.method === 'OPTIONS') return done();
    const token = presentedToken(request);
    if (token === undefined) return done(gatewayError('CG_ERR_AUTH_MISSING'));
    const principal = app.tokens.authenticate(token);
    if (principal === undefined) return done(gatewayError('CG_ERR_AUTH_INVALID'));
    request.principal = principal;
    done();
  });
}

function presentedToken(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^bearer\s+(\S+)\s*$/i.exec(authorization);
    return match?.[1];
  }
  const apiKey = request.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey !== '') return apiKey;
  const query = request.query as Record<string, unknown> | undefined;
  const fromQuery = query?._token;
  return typeof fromQuery === 'string' && fromQuery !== '' ? fromQuery : undefined;
}

export default fp(authPlugin, { name: 'auth' });
