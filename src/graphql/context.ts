import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { initContextCache } from '@pothos/core';
import type { RequestScope } from '../app/request.ts';
import type { Actor } from '../domain/identity/roles.ts';
import type { AppServices, Services } from '../runtime/services.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { hashApiKey } from '../domain/identity/api-keys.ts';
import { looksLikeJwt, type TokenVerifier } from '../app/tokens.ts';
import { createLoaders, type Loaders } from '../app/loaders.ts';
import { AnswerBudget } from '../app/answer-budget.ts';
import { comparePositions, type LogPosition } from '../store/event-store.ts';

export interface GraphQLContext {
  readonly services: AppServices;
  readonly scope: RequestScope;
  readonly loaders: Loaders;
  /** What this answer may still hold (MAX_RESPONSE_BYTES): a subscription's payloads each have their own. */
  readonly answer: AnswerBudget;
  /** Whether the caller's key is still valid: long-lived subscriptions ask again and again. */
  stillAuthorized(): Promise<boolean>;
  /** Where the request's last write landed in the log, once it wrote. */
  readonly written: { position: LogPosition | null };
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

/** Who a request's credential stands for, and how to ask again whether it still does. */
export interface Principal {
  readonly actor: Actor;
  /** What rate limits and subscription slots are counted by: the key, or the token's subject. */
  readonly quotaKey: string;
  stillValid(): Promise<boolean>;
}

/**
 * The caller behind `Authorization: Bearer <credential>`: an API key, or a JWT when JWT keys
 * are configured. The same form on every transport (a header over HTTP and SSE, the
 * `authorization` field of connection_init over WebSocket); a credential without `Bearer` is
 * refused, as RFC 6750 has it.
 */
export async function authenticate(services: AppServices, authorization: unknown): Promise<Principal> {
  if (typeof authorization !== 'string' || authorization.trim() === '') {
    throw unauthenticated('an API key or token is required: send "Authorization: Bearer <credential>"');
  }
  const [scheme, credential, ...rest] = authorization.trim().split(/\s+/);
  if (scheme!.toLowerCase() !== 'bearer' || !credential || rest.length > 0) {
    throw unauthenticated('the Authorization header must be "Bearer <credential>"');
  }
  if (services.tokens && looksLikeJwt(credential)) return tokenPrincipal(services, services.tokens, credential);
  const hash = hashApiKey(credential);
  const actor = await services.identity.authenticate(credential, hash);
  if (!actor) throw unauthenticated('the API key is unknown, revoked or expired');
  return {
    actor,
    quotaKey: hash,
    stillValid: async () => (await services.identity.authenticate(credential, hash)) !== null,
  };
}

async function tokenPrincipal(services: AppServices, tokens: TokenVerifier, credential: string): Promise<Principal> {
  const check = await tokens.verify(credential);
  if ('refused' in check) throw unauthenticated(check.refused);
  const { actor, name, validUntil } = check.token;
  if (!(await services.identity.recordSubject(actor, name))) throw unauthenticated("the token's workspace does not exist");
  return { actor, quotaKey: `jwt:${actor.userId}`, stillValid: async () => validUntil.getTime() > Date.now() };
}

/**
 * The Prisma client the Prisma plugin loads relations with (builder.ts): the one place past
 * the services that reaches the database, for the rows of relations of rows a service read.
 */
export const relationClient = (context: GraphQLContext): PrismaClient => (context.services as Services).db.prisma;

/** Loaders and relation caches made in this turn of the event loop, by the subscription's context. */
let payloadCaches: WeakMap<GraphQLContext, Pick<GraphQLContext, 'loaders'>> | undefined;

/**
 * The context a payload of a subscription resolves in: the subscription's, with an answer
 * budget of its own, and loaders (and Pothos's relation cache) newer than the payload's event.
 * Loaders cache for their context's life; a subscription's lasts for hours, and would serve
 * every payload the rows its first payload read. The payloads of one turn of the event loop
 * (the events of one read of the log) share them, so that their loads batch into one statement.
 */
export function payloadContext(context: GraphQLContext): GraphQLContext {
  if (!payloadCaches) {
    payloadCaches = new WeakMap();
    setImmediate(() => (payloadCaches = undefined));
  }
  let caches = payloadCaches.get(context);
  if (!caches) {
    caches = {
      ...initContextCache(),
      loaders: createLoaders(context.services, context.services.config.maxResponseBytes, context.scope.actor.workspaceId, () =>
        context.answer.turn(),
      ),
    };
    payloadCaches.set(context, caches);
  }
  return { ...context, ...caches, answer: context.answer.renewed() };
}

export interface RequestInfo {
  readonly authorization: unknown;
  /** The caller, admitted already by the transport (the response cache admits before it looks). */
  readonly admitted?: Promise<Principal> | undefined;
  readonly requestId: string;
  readonly correlationId?: string | null | undefined;
}

/** Every operation needs an API key, on every transport, and counts against its rate limit. */
export async function admit(services: AppServices, authorization: unknown): Promise<Principal> {
  const principal = await authenticate(services, authorization);
  await services.rateLimit?.take(principal.quotaKey, principal.actor.workspaceId);
  return principal;
}

export async function createContext(services: AppServices, request: RequestInfo): Promise<GraphQLContext> {
  const { actor, quotaKey, stillValid } = await (request.admitted ?? admit(services, request.authorization));
  const { maxReadBytesPerSecond } = await services.limits.of(actor.workspaceId);
  const pace = {
    turn: () => services.readPace.turn(actor.workspaceId, maxReadBytesPerSecond),
    charge: (bytes: number) => services.readPace.charge(actor.workspaceId, bytes, maxReadBytesPerSecond),
  };
  const answer = new AnswerBudget(services.config.maxResponseBytes, pace);
  const written: GraphQLContext['written'] = { position: null };
  return {
    services,
    scope: {
      actor,
      requestId: request.requestId,
      correlationId: request.correlationId && TRACE_ID.test(request.correlationId) ? request.correlationId : request.requestId,
      wrote: (position) => {
        if (!written.position || comparePositions(position, written.position) > 0) written.position = position;
      },
    },
    written,
    loaders: createLoaders(services, services.config.maxResponseBytes, actor.workspaceId, () => answer.turn()),
    answer,
    stillAuthorized: stillValid,
    subscription: (start) => services.subscriptionQuota.hold(quotaKey, actor.workspaceId, start),
  };
}
