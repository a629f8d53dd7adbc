import type { IncomingMessage, ServerResponse } from 'node:http';
import { getOperationAST, parse } from 'graphql';
import { LRUCache } from 'lru-cache';
import { etagOf, type CachedAnswer, type ResponseCache } from '../app/response-cache.ts';
import { AppError } from '../domain/errors.ts';
import { operationLabel, type Metrics } from '../ops/metrics.ts';
import { cursors } from '../graphql/connections.ts';
import { admit, requestIdOf, type Principal } from '../graphql/context.ts';
import type { LogPosition } from '../store/event-store.ts';
import { answer } from './answer.ts';
import { describeError, log, logRequest } from './log.ts';
import { READ_AFTER_HEADER, type CacheRead } from './cache-plugins.ts';
import type { GraphQLHandler } from './graphql-handler.ts';
import type { Services } from './services.ts';
import type { GraphQLCall, GraphQLEndpoint } from '../rest/graphql-call.ts';
import { createHash } from 'node:crypto';
import { readBody } from './read-body.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Params {
  readonly query: string;
  readonly operationName?: string | null;
  readonly variables?: Record<string, unknown> | null;
  readonly extensions?: { readonly readAfter?: unknown } | null;
}

/** What a client accepts when it wants an event stream or incremental delivery. */
const STREAMED = /text\/event-stream|multipart\//;

/** Headers of an answer that belong to its request, not to what it says. */
const OWN_HEADERS = new Set(['x-request-id', 'content-length', 'date', 'connection', 'keep-alive', 'set-cookie']);

/** Documents longer than this are Yoga's alone: neither classified here nor kept. */
const MAX_DOCUMENT_CHARS = 16 * 1024;

/**
 * What each recent document is, by operation name and text: the label of the one query it runs
 * (`Query.workflows`, the only kind of operation an answer may be shared or kept for), or null.
 * Bounded in characters; parsed with the same token limit as Yoga's.
 */
const queries = new LRUCache<string, { readonly label: string | null }>({
  maxSize: 4 * 1024 * 1024,
  sizeCalculation: (_value, key) => key.length,
});

function queryLabel(params: Params, maxTokens: number): string | null {
  if (params.query.length > MAX_DOCUMENT_CHARS) return null;
  const key = `${JSON.stringify(params.operationName ?? null)}\n${params.query}`;
  let known = queries.get(key);
  if (known === undefined) {
    let label: string | null = null;
    try {
      const document = parse(params.query, { maxTokens });
      if (getOperationAST(document, params.operationName)?.operation === 'query') label = operationLabel(document, params.operationName);
    } catch {
      // Yoga answers what it cannot parse.
    }
    queries.set(key, (known = { label }));
  }
  return known.label;
}

function paramsOf(body: string): Params | string {
  try {
    const parsed: unknown = JSON.parse(body);
    const params = parsed as Params;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && typeof params.query === 'string') return params;
  } catch {
    // Yoga answers what it cannot parse, as it would without the cache.
  }
  return body;
}

/** The answer a Response holds, with the headers that are about it rather than its request. */
async function toAnswer(response: Response, readBytes: number): Promise<CachedAnswer> {
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!OWN_HEADERS.has(name)) headers[name] = value;
  });
  return { status: response.status, headers, body, etag: etagOf(body), readBytes };
}

/** What a query comes to: an answer from the cache (kept, shared or computed now), or Yoga's to answer. */
type Looked =
  | {
      readonly kind: 'answer';
      readonly answered: CachedAnswer;
      readonly source: string;
      readonly label: string;
      readonly requestId: string;
    }
  | { readonly kind: 'yoga'; readonly admitted: Promise<Principal> };

/**
 * GraphQL over HTTP POST, through the response cache, and the same without HTTP for the REST
 * routes (`endpoint`). A query's answer is looked up by the caller's workspace, role and user,
 * the allowed origin, and the document, operation and variables: a hit is written out without
 * parsing, validating or executing anything. The caller is still authenticated and counted
 * against its rate limit first, every time, so a revoked key stops at once. Identical queries
 * under way share one execution. Everything else (mutations, persisted operations, bodies
 * Yoga must refuse) goes to Yoga as before.
 *
 * A read presenting a consistency token (Flowledger-Read-After, or `extensions.readAfter`)
 * waits until this process's log has reached it; past READ_AFTER_TIMEOUT_MS it is answered from
 * the database instead, and not kept.
 */
export function cachedReads(services: Services, cache: ResponseCache | null, yoga: GraphQLHandler, metrics: Metrics) {
  const { readAfterTimeoutMs, maxQueryTokens, logRequests } = services.config;
  const origins = new Set(services.config.allowedOrigins);

  const toYoga = (request: IncomingMessage, response: ServerResponse, body: string | Params, admitted?: Promise<Principal>) => {
    (request as IncomingMessage & { body?: unknown }).body = body;
    void yoga(request, response, { admitted });
  };

  const charged = async (workspaceId: string, bytes: number) => {
    if (bytes === 0) return true;
    try {
      const { maxReadBytesPerSecond } = await services.limits.of(workspaceId);
      await services.readPace.turn(workspaceId, maxReadBytesPerSecond);
      services.readPace.charge(workspaceId, bytes, maxReadBytesPerSecond);
    } catch {
      return false;
    }
    return true;
  };

  const fetchYoga = async (headers: Headers, body: string, context: Record<string, unknown>, signal?: AbortSignal) =>
    yoga.fetch('http://localhost/graphql', { method: 'POST', headers, body, signal }, context);

  const compute = async (headers: Headers, body: string, admitted: Promise<Principal>) => {
    const read: CacheRead = { dependencies: null, charged: 0 };
    const answered = await toAnswer(await fetchYoga(headers, body, { admitted, cacheRead: read }), read.charged);
    return { answer: answered, dependencies: answered.status === 200 ? read.dependencies : null };
  };

  const lookup = async (
    headers: Readonly<Record<string, string | string[] | undefined>>,
    params: Params,
    raw: string,
    admitted: Promise<Principal>,
    { actor }: Principal,
  ): Promise<Looked> => {
    const label = cache && queryLabel(params, maxQueryTokens);
    if (!cache || !label) return { kind: 'yoga', admitted };
    const token = headers[READ_AFTER_HEADER] ?? params.extensions?.readAfter;
    if (token !== undefined) {
      let after: LogPosition;
      try {
        after = cursors.log.decode(String(token));
      } catch {
        // Refused by Yoga, so that the answer has its headers and status like any refusal.
        const message = `${READ_AFTER_HEADER} is not a position of this log: send a Flowledger-Position or logCursor as it was given`;
        const refused = Promise.reject(new AppError('BAD_USER_INPUT', message, { http: { status: 400 } }));
        // Yoga answers a document that fails validation before it asks for the context: unheard,
        // this rejection would end the process.
        refused.catch(() => {});
        return { kind: 'yoga', admitted: refused };
      }
      if (!(await services.live.reached(after, readAfterTimeoutMs))) return { kind: 'yoga', admitted };
    }
    const origin = typeof headers.origin === 'string' && origins.has(headers.origin) ? headers.origin : '';
    const accept = String(headers.accept ?? '');
    const key = [
      actor.workspaceId,
      actor.role,
      actor.userId,
      origin,
      accept,
      JSON.stringify(params.operationName ?? null),
      params.query,
      JSON.stringify(params.variables ?? null),
    ].join('\n');
    const requestId = requestIdOf(headers['x-request-id'] as string | undefined);
    const forwarded = new Headers();
    for (const [name, value] of Object.entries(headers)) if (typeof value === 'string') forwarded.set(name, value);
    forwarded.set('x-request-id', requestId);
    const { answer: answered, source } = await cache.answer(key, actor.workspaceId, () => compute(forwarded, raw, admitted));
    // A kept answer costs the workspace's read rate what computing it did; past the rate (or
    // with the limits unreadable), the request is Yoga's, which refuses it as it would any read.
    if (source !== 'miss' && !(await charged(actor.workspaceId, answered.readBytes))) return { kind: 'yoga', admitted };
    return { kind: 'answer', answered, source, label, requestId };
  };

  /** Yoga counted and logged a miss; a kept or shared answer is counted here. */
  const counted = (looked: Extract<Looked, { kind: 'answer' }>, began: number) => {
    if (looked.source === 'miss') return;
    const durationMs = performance.now() - began;
    metrics.observe(looked.label, durationMs);
    if (logRequests)
      logRequest({
        requestId: looked.requestId,
        operation: looked.label,
        status: looked.answered.status,
        durationMs,
        cache: looked.source,
      });
  };

  const send = (
    request: IncomingMessage,
    response: ServerResponse,
    { answered, requestId, source }: Extract<Looked, { kind: 'answer' }>,
  ) => {
    const headers = { ...answered.headers, etag: answered.etag, 'x-request-id': requestId, 'flowledger-cache': source };
    if (request.headers['if-none-match'] === answered.etag) {
      response.writeHead(304, headers);
      response.end();
      return;
    }
    response.writeHead(answered.status, { ...headers, 'content-length': answered.body.length });
    response.end(answered.body);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, raw: string) => {
    const began = performance.now();
    const params = paramsOf(raw);
    // Event streams and incremental delivery are Yoga's: a kept answer is one JSON body.
    if (typeof params === 'string' || STREAMED.test(request.headers.accept ?? '')) return toYoga(request, response, params);
    // Admitted before anything else is done with the document: an unauthenticated caller costs no parse.
    const admitted = admit(services, request.headers.authorization);
    let principal: Principal;
    try {
      principal = await admitted;
    } catch {
      // Refused: Yoga answers the same refusal, from the same promise, as it would have.
      return toYoga(request, response, params, admitted);
    }
    const looked = await lookup(request.headers, params, raw, admitted, principal);
    if (looked.kind === 'yoga') return toYoga(request, response, params, looked.admitted);
    send(request, response, looked);
    counted(looked, began);
  };

  /** The HTTP handler, `next` answering what is not a POST to /graphql (and everything, without a cache). */
  const http =
    (next: (request: IncomingMessage, response: ServerResponse) => void) => (request: IncomingMessage, response: ServerResponse) => {
      if (!cache || request.method !== 'POST' || request.url?.split('?')[0] !== '/graphql') return next(request, response);
      readBody(request)
        .then((raw) => handle(request, response, raw))
        .catch((error: unknown) => {
          // A client that went away mid-request is nobody's error.
          if (response.destroyed || request.socket.destroyed) return;
          log('error', 'a read through the response cache failed', describeError(error));
          if (!response.headersSent) answer(response, 500, 'application/json', JSON.stringify({ errors: [{ message: 'internal error' }] }));
        });
    };

  const persisted = services.persistedOperations;
  /** A REST route's request: its document by hash where only persisted operations may run. */
  const bodyOf = ({ query, variables }: GraphQLCall) =>
    JSON.stringify(
      persisted ? { variables, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } } } : { query, variables },
    );
  const headersOf = (call: GraphQLCall, accept: string) => ({ ...call.headers, accept, 'content-type': 'application/json' });

  const endpoint: GraphQLEndpoint = {
    async answer(call) {
      const began = performance.now();
      const raw = bodyOf(call);
      const headers = headersOf(call, 'application/json');
      const looked = await lookup(headers, { query: call.query, variables: call.variables }, raw, call.admitted, call.principal);
      if (looked.kind === 'answer') {
        counted(looked, began);
        return {
          body: looked.answered.body,
          headers: { ...looked.answered.headers, 'x-request-id': looked.requestId, 'flowledger-cache': looked.source },
        };
      }
      return toAnswer(await fetchYoga(new Headers(headers), raw, { admitted: looked.admitted }), 0);
    },
    stream: (call, signal) =>
      fetchYoga(new Headers(headersOf(call, 'text/event-stream')), bodyOf(call), { admitted: call.admitted }, signal),
  };

  return { http, endpoint };
}
