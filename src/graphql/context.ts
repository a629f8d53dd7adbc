import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { RequestScope } from '../app/request.ts';
import type { Actor } from '../domain/identity/roles.ts';
import type { Services } from '../runtime/services.ts';
import { hashApiKey } from '../domain/identity/api-keys.ts';
import { createLoaders, type Loaders } from './loaders.ts';

export interface GraphQLContext {
  readonly services: Services;
  readonly scope: RequestScope;
  readonly loaders: Loaders;
  /** Whether the caller's key is still valid: long-lived subscriptions ask again and again. */
  stillAuthorized(): Promise<boolean>;
  /** Starts a subscription in one of the caller's key's slots (MAX_SUBSCRIPTIONS_PER_KEY). */
  subscription<T>(start: (onEnd: () => void) => AsyncIterableIterator<T>): AsyncIterableIterator<T>;
}

const TRACE_ID = /^[\w.:-]{1,128}$/;

/** A client's own request id is kept when it is sane, so its logs and ours line up. */
export function requestIdOf(given: string | null | undefined): string {
  return given && TRACE_ID.test(given) ? given : randomUUID();
}

export function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } },
  });
}

/** The caller behind `Authorization: Bearer <key>` (a bare key is accepted too, for WebSocket clients). */
export async function authenticate(services: Services, authorization: unknown): Promise<{ actor: Actor; key: string }> {
  if (typeof authorization !== 'string' || authorization.trim() === '') {
    throw unauthenticated('an API key is required: send "Authorization: Bearer <key>"');
  }
  const parts = authorization.trim().split(/\s+/);
  const key = parts.length === 1 ? parts[0] : parts[0]!.toLowerCase() === 'bearer' ? parts[1] : undefined;
  if (!key || parts.length > 2) throw unauthenticated('the Authorization header must be "Bearer <key>"');
  const actor = await services.identity.authenticate(key);
  if (!actor) throw unauthenticated('the API key is unknown, revoked or expired');
  return { actor, key };
}

export interface RequestInfo {
  readonly authorization: unknown;
  readonly requestId: string;
  readonly correlationId?: string | null | undefined;
}

/** Every operation needs an API key, on every transport, and counts against its rate limit. */
export async function createContext(services: Services, request: RequestInfo): Promise<GraphQLContext> {
  const { actor, key } = await authenticate(services, request.authorization);
  await services.rateLimit?.take(hashApiKey(key));
  return {
    services,
    scope: {
      actor,
      requestId: request.requestId,
      correlationId:
        request.correlationId && TRACE_ID.test(request.correlationId) ? request.correlationId : request.requestId,
    },
    loaders: createLoaders(services),
    stillAuthorized: async () => (await services.identity.authenticate(key)) !== null,
    subscription: (start) => services.subscriptionQuota.hold(hashApiKey(key), start),
  };
}
