import { createYoga, type Plugin } from 'graphql-yoga';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { createContext, requestIdOf, type GraphQLContext, type Principal } from '../graphql/context.ts';
import { cacheReadPlugin, POSITION_HEADER, positionPlugin, READ_AFTER_HEADER } from './cache-plugins.ts';
import { toClientError } from '../graphql/errors.ts';
import { subscribeWithPayloadContexts, withinBudget } from '../graphql/payloads.ts';
import { schema } from '../graphql/schema/index.ts';
import type { Metrics, RequestDone } from '../ops/metrics.ts';
import { GRAPHIQL_CSP, GRAPHIQL_OPTIONS, renderGraphiQL } from './graphiql.ts';
import { documentLimits } from './limits.ts';
import { describeError, log, logRequest } from './log.ts';
import { TRACE_HEADER, tracingPlugin } from './tracing.ts';
import type { Services } from './services.ts';

const requestIds = new WeakMap<Request, string>();

/** Every response carries the request id that the events and the logs of that request carry. */
function requestIdPlugin(): Plugin {
  return {
    onRequest({ request }) {
      requestIds.set(request, requestIdOf(request.headers.get('x-request-id')));
    },
    onResponse({ request, response }) {
      const id = requestIds.get(request);
      if (id) response.headers.set('x-request-id', id);
    },
  };
}

/**
 * Headers every answer carries: it is JSON or an event stream for programs, never a page to
 * frame, sniff or follow links from. GraphiQL's page (development only) may load what this
 * origin serves, and nothing from elsewhere.
 */
function securityHeadersPlugin(): Plugin {
  return {
    onResponse({ response }) {
      const page = response.headers.get('content-type')?.includes('text/html');
      response.headers.set('x-content-type-options', 'nosniff');
      response.headers.set('referrer-policy', 'no-referrer');
      response.headers.set('x-frame-options', 'DENY');
      response.headers.set('content-security-policy', page ? GRAPHIQL_CSP : "default-src 'none'; frame-ancestors 'none'");
    },
  };
}

/**
 * A subscription asked for over HTTP without accepting an event stream gets 406 from Yoga,
 * which never ends the stream it has already started: this plugin, whose hook runs after
 * Yoga's own result processors, ends it, releasing its live-log subscription and key slot.
 */
function endUnsentStreamsPlugin(): Plugin {
  return {
    onResultProcess({ result, resultProcessor }) {
      if (!resultProcessor && typeof result === 'object' && result !== null && Symbol.asyncIterator in result) {
        void (result as AsyncIterable<unknown>)[Symbol.asyncIterator]().return?.();
      }
    },
  };
}

/** Server-Sent Events subscriptions resolve each payload as of its own event (graphql/payloads.ts). */
function payloadContextsPlugin(): Plugin {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribeWithPayloadContexts as never);
    },
  };
}

/** A query's or mutation's answer over its byte budget is one RESPONSE_TOO_LARGE error (graphql/payloads.ts). */
function answerBudgetPlugin(): Plugin<GraphQLContext> {
  return {
    onExecute: () => ({
      onExecuteDone({ args, result, setResult }) {
        if (!(Symbol.asyncIterator in result)) setResult(withinBudget(result, args.contextValue));
      },
    }),
  };
}

const logDone = ({ request, operation, status, durationMs }: RequestDone) =>
  logRequest({ requestId: requestIds.get(request), operation, status, durationMs });

/** GraphiQL is served in development, where the schema may be introspected (it needs to). */
export const graphiqlEnabled = (services: Services) => services.config.environment === 'development' && services.config.introspection;

/** GraphQL over HTTP: queries and mutations, and subscriptions as Server-Sent Events. */
export function createGraphQLHandler(services: Services, metrics: Metrics) {
  const persisted = services.persistedOperations;
  return createYoga({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: graphiqlEnabled(services) ? GRAPHIQL_OPTIONS : false,
    renderGraphiQL,
    landingPage: false,
    // limitBodies refuses chunked bodies and bodies whose Content-Length is over MAX_BODY_BYTES;
    // Node's parser holds a body to its Content-Length. Yoga's own limit would pipe every body
    // through a counting stream: without it `{ __typename }` served 1.3 to 1.6 times as many
    // requests (docs/benchmarks.md).
    maxRequestBodySize: false,
    // Browsers on ALLOWED_ORIGINS may call the API; without any, no cross-origin browser call.
    cors:
      services.config.allowedOrigins.length > 0
        ? {
            origin: [...services.config.allowedOrigins],
            allowedHeaders: [
              'authorization',
              'content-type',
              'x-request-id',
              'x-correlation-id',
              READ_AFTER_HEADER,
              'if-none-match',
              'traceparent',
              'tracestate',
            ],
            exposedHeaders: ['x-request-id', POSITION_HEADER, 'etag', 'flowledger-cache', TRACE_HEADER],
          }
        : false,
    // Client errors are answered, not logged; unexpected ones are logged by maskError.
    logging: false,
    maskedErrors: {
      maskError: (error) => {
        const masked = toClientError(error, (cause) => log('error', 'unexpected error in a request', describeError(cause)));
        metrics.countError(masked.extensions.code);
        return masked;
      },
    },
    context: ({ request, admitted }: { request: Request; admitted?: Promise<Principal> }) =>
      createContext(services, {
        authorization: request.headers.get('authorization'),
        admitted,
        requestId: requestIds.get(request) ?? requestIdOf(null),
        correlationId: request.headers.get('x-correlation-id'),
      }),
    plugins: [
      metrics.plugin(services.config.logRequests ? logDone : undefined),
      requestIdPlugin(),
      securityHeadersPlugin(),
      endUnsentStreamsPlugin(),
      payloadContextsPlugin(),
      answerBudgetPlugin(),
      positionPlugin(),
      cacheReadPlugin(),
      ...(persisted ? [persisted.plugin()] : []),
      ...documentLimits(services.config),
      ...(services.config.introspection ? [] : [useDisableIntrospection()]),
      // Last, so that its span holds the execution as the plugins before it have shaped it.
      ...(services.tracing ? [tracingPlugin(services.tracing)] : []),
    ],
  });
}

export type GraphQLHandler = ReturnType<typeof createGraphQLHandler>;
