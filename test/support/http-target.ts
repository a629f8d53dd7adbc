import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Reply {
  readonly status?: number;
  readonly body?: unknown;
  readonly delayMs?: number;
  readonly headers?: Record<string, string>;
}

/**
 * A real HTTP server for http.request steps to call: it counts calls by path and by
 * Idempotency-Key, tracks how many are in flight at once (of one key too, until the call is
 * answered or its caller goes away), and answers by a function of the path and the call's number.
 */
export interface HttpTarget {
  readonly url: string;
  /** Calls so far, by path. */
  calls(path: string): number;
  /** The most calls in flight at once since the start. */
  readonly maxInFlight: number;
  /** Calls so far by their Idempotency-Key: what a target deduplicating on it would do once each. */
  readonly byKey: ReadonlyMap<string, number>;
  /** The most calls of one Idempotency-Key in flight at once since the start. */
  readonly maxInFlightPerKey: number;
  reply(handler: (path: string, call: number, body: unknown) => Reply): void;
  close(): Promise<void>;
}

export async function startHttpTarget(): Promise<HttpTarget> {
  const counts = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const byKey = new Map<string, number>();
  const keyInFlight = new Map<string, number>();
  let maxInFlightPerKey = 0;
  let handler: (path: string, call: number, body: unknown) => Reply = () => ({ body: { ok: true } });
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url!, 'http://x').pathname;
    const call = (counts.get(path) ?? 0) + 1;
    counts.set(path, call);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const key = request.headers['idempotency-key'];
    if (typeof key === 'string') {
      byKey.set(key, (byKey.get(key) ?? 0) + 1);
      keyInFlight.set(key, (keyInFlight.get(key) ?? 0) + 1);
      maxInFlightPerKey = Math.max(maxInFlightPerKey, keyInFlight.get(key)!);
      // Answered, or given up by its caller (a run stopped): either way no longer in flight.
      response.once('close', () => keyInFlight.set(key, keyInFlight.get(key)! - 1));
    }
    let text = '';
    for await (const chunk of request) text += chunk;
    const reply = handler(path, call, text ? JSON.parse(text) : null);
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    inFlight -= 1;
    response.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
    response.end(JSON.stringify(reply.body ?? { path, call }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls: (path) => counts.get(path) ?? 0,
    get maxInFlight() {
      return maxInFlight;
    },
    byKey,
    get maxInFlightPerKey() {
      return maxInFlightPerKey;
    },
    reply(next) {
      handler = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
