import type { IncomingMessage, ServerResponse } from 'node:http';
import { admit } from '../graphql/context.ts';
import type { AppServices } from '../runtime/services.ts';
import type { GraphQLEndpoint } from './graphql-call.ts';
import { checkedQuery, Refused } from './handler.ts';
import { queryParameters, refusalResponses } from './openapi.ts';
import { problemOfError, problemOfThrown, sendProblem } from './problem.ts';
import { EVENT_EXAMPLE, STREAM_DOCUMENT, STREAM_QUERY } from './routes/events.ts';

export const STREAM_PATH = '/api/events/stream';

interface Item {
  readonly cursor: string;
  readonly caughtUp: boolean;
  readonly event: ({ readonly type: string } & Record<string, unknown>) | null;
}

/** One Server-Sent Event: its id is the log cursor, so a reconnecting EventSource resumes by itself. */
const frame = (item: Item) =>
  item.event
    ? `id: ${item.cursor}\ndata: ${JSON.stringify(item.event)}\n\n`
    : `id: ${item.cursor}\nevent: caught-up\ndata: ${JSON.stringify({ cursor: item.cursor })}\n\n`;

/** Yoga's event stream, one event's data at a time ('next' events; pings are skipped). */
async function* nexts(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ data?: { events?: Item }; errors?: { message: string; extensions?: Record<string, unknown> }[] }> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const lines = buffered.slice(0, end).split('\n');
      buffered = buffered.slice(end + 2);
      if (!lines.includes('event: next')) continue;
      yield JSON.parse(
        lines
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trim())
          .join('\n'),
      );
    }
  }
}

/**
 * GET /api/events/stream: the global log as Server-Sent Events for REST clients. It is the
 * GraphQL `events` subscription (so the same rules, slots and order): the stored events after
 * `after` (or Last-Event-ID, which a reconnecting EventSource sends) come first, then a
 * `caught-up` event, then each new event as it commits, with no gap and no repeat.
 */
export function eventStream(services: AppServices, endpoint: GraphQLEndpoint) {
  const serve = async (request: IncomingMessage, response: ServerResponse, url: URL) => {
    const admitted = admit(services, request.headers.authorization);
    const principal = await admitted;
    const query = checkedQuery(STREAM_QUERY, url);
    const lastEventId = request.headers['last-event-id'];
    const variables = {
      after: typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : query.after,
      aggregateType: query.aggregate_type,
      types: query.types,
    };
    const abort = new AbortController();
    response.on('close', () => abort.abort());
    const headers: Record<string, string> = {};
    if (typeof request.headers['x-request-id'] === 'string') headers['x-request-id'] = request.headers['x-request-id'];
    const streamed = await endpoint.stream({ query: STREAM_DOCUMENT, variables, headers, admitted, principal }, abort.signal);
    if (!streamed.body) throw new Error('the subscription answered no stream');
    for await (const next of nexts(streamed.body)) {
      if (next.errors?.length) {
        const { problem: refusal, headers: extra } = problemOfError(next.errors[0]!);
        if (!response.headersSent) return sendProblem(response, refusal, extra);
        response.end(`event: error\ndata: ${JSON.stringify(refusal)}\n\n`);
        return abort.abort();
      }
      if (!response.headersSent) {
        response.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-store',
          'x-accel-buffering': 'no',
          ...headers,
        });
      }
      response.write(frame(next.data!.events!));
    }
    response.end();
  };

  return (request: IncomingMessage, response: ServerResponse, url: URL) => {
    serve(request, response, url).catch((error: unknown) => {
      if (response.headersSent || response.destroyed) return response.end();
      if (error instanceof Refused) return sendProblem(response, error.refusal, error.headers);
      const { problem: refusal, headers } = problemOfThrown(error);
      sendProblem(response, refusal, headers);
    });
  };
}

/** The stream's entry in the OpenAPI document. */
export const STREAM_OPERATION = {
  get: {
    operationId: 'eventStream',
    summary: 'The global log, live, as Server-Sent Events',
    description:
      "The stored events after `after` (or after the Last-Event-ID header, which a reconnecting EventSource sends by itself) first, then one `caught-up` event, then each new event as it commits, in the order of GraphQL's eventLog, with no gap and no repeat. Each event's SSE id is its log cursor; its data is the event. Without `after`, only what happens from now on. A refusal after the stream began is an `error` event carrying a problem.\n\nRuns the GraphQL field `Subscription.events`, with its roles and limits (subscription slots).",
    tags: ['Events'],
    parameters: [
      ...queryParameters(STREAM_QUERY),
      {
        name: 'Last-Event-ID',
        in: 'header',
        required: false,
        description: 'The id of the last event received: the stream resumes after it.',
        schema: { type: 'string' },
        example: EVENT_EXAMPLE.logCursor,
      },
    ],
    responses: {
      ...refusalResponses([403]),
      200: {
        description: 'An event stream that lasts until the client leaves.',
        content: {
          'text/event-stream': {
            schema: { type: 'string' },
            example: `id: ${EVENT_EXAMPLE.logCursor}\ndata: ${JSON.stringify(EVENT_EXAMPLE)}\n\n`,
          },
        },
      },
    },
  },
};
