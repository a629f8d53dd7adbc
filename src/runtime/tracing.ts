import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ExecutionArgs, ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { toClientError } from '../graphql/errors.ts';
import { operationLabel } from '../ops/metrics.ts';
import type { Tracing } from '../ops/tracing.ts';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** The header that names the trace of a response, for a client's bug report or a support search. */
export const TRACE_HEADER = 'x-trace-id';

/**
 * Each HTTP request as a server span, in the caller's trace when it sends a W3C `traceparent`
 * (or, with TRACE_CALLER_CONTEXT=link, in a trace of ours linked to it). What the request does
 * (GraphQL, SQL) runs in its context, and so becomes part of the same trace. A sampled trace's
 * id is sent back in `x-trace-id`.
 */
export function tracedRequests(tracing: Tracing, next: Handler): Handler {
  return (request, response) => {
    const remote = propagation.extract(ROOT_CONTEXT, request.headers);
    const caller = trace.getSpanContext(remote);
    const link = tracing.callerContext === 'link';
    const parent = link ? ROOT_CONTEXT : remote;
    const span = tracing.tracer.startSpan(
      request.method ?? 'HTTP',
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': request.method ?? '', 'url.path': request.url?.split('?')[0] ?? '' },
        links: link && caller ? [{ context: caller }] : [],
      },
      parent,
    );
    const { traceId, traceFlags } = span.spanContext();
    if (traceFlags & 1) response.setHeader(TRACE_HEADER, traceId);
    response.once('close', () => {
      span.setAttribute('http.response.status_code', response.statusCode);
      if (response.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), () => next(request, response));
  };
}

/**
 * Each GraphQL execution (and subscription start) as a span named by its root field, with the
 * codes of the errors it answered. Over WebSocket, where no HTTP span is open, it starts a trace.
 */
export function tracingPlugin(tracing: Tracing): Plugin {
  const around =
    <R>(kind: string, run: (args: ExecutionArgs) => R) =>
    (args: ExecutionArgs) => {
      const label = operationLabel(args.document, args.operationName);
      return tracing.span(
        `GraphQL ${label}`,
        { 'graphql.operation.type': kind, 'graphql.operation.name': args.operationName ?? '', 'flowledger.operation': label },
        async (span) => {
          const result = await run(args);
          const errors = (result as ExecutionResult).errors;
          if (errors?.length) {
            // The codes the client gets: the mask logs what is unexpected, once, so not here.
            const codes = [...new Set(errors.map((error) => String(toClientError(error, () => {}).extensions.code)))];
            span.setAttribute('flowledger.error.codes', codes);
            span.setStatus({ code: SpanStatusCode.ERROR, message: codes.join(', ') });
          }
          return result;
        },
      );
    };
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(around('execute', executeFn as (args: ExecutionArgs) => unknown) as typeof executeFn);
    },
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      setSubscribeFn(around('subscribe', subscribeFn as (args: ExecutionArgs) => unknown) as typeof subscribeFn);
    },
  };
}
