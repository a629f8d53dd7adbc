import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { RequestScope } from '../app/request.ts';
import type { Services } from '../runtime/services.ts';
import { createLoaders, type Loaders } from './loaders.ts';

export interface GraphQLContext {
  readonly services: Services;
  readonly scope: RequestScope;
  readonly loaders: Loaders;
}

const TRACE_ID = /^[\w.:-]{1,128}$/;

/** A client's own request id is kept when it is sane, so its logs and ours line up. */
export function requestIdOf(request: Request): string {
  const given = request.headers.get('x-request-id');
  return given && TRACE_ID.test(given) ? given : randomUUID();
}

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } },
  });
}

/** Every operation needs an API key: `Authorization: Bearer <key>`. */
export async function createContext(request: Request, requestId: string, services: Services): Promise<GraphQLContext> {
  const header = request.headers.get('authorization');
  if (!header) throw unauthenticated('an API key is required: send "Authorization: Bearer <key>"');
  const [scheme, key] = header.trim().split(/\s+/, 2);
  if (scheme?.toLowerCase() !== 'bearer' || !key) throw unauthenticated('the Authorization header must be "Bearer <key>"');
  const actor = await services.identity.authenticate(key);
  if (!actor) throw unauthenticated('the API key is unknown, revoked or expired');
  const correlation = request.headers.get('x-correlation-id');
  return {
    services,
    scope: {
      actor,
      requestId,
      correlationId: correlation && TRACE_ID.test(correlation) ? correlation : requestId,
    },
    loaders: createLoaders(services),
  };
}
