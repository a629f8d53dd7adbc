import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'graphql-ws';
import { dataOf, FlowledgerError, type WireError } from './errors.ts';
import type { LiveEventsSubscription, LiveEventsSubscriptionVariables } from './gql/graphql.ts';
import { LiveEvents as LiveEventsDocument } from './operations.ts';
import type { Credentials } from './transport.ts';

/** An event, or the marker (`event: null`, `caughtUp: true`) that the stored events are all delivered. */
export type LiveItem = LiveEventsSubscription['events'];

export type LiveEventsOptions = LiveEventsSubscriptionVariables;

// Closes of a connection lost (1006: no close frame) or of a server going away, restarting or
// overloaded. Any other close would fail the same way again: 4403 is a refused credential.
const PASSING_CLOSES = new Set([1001, 1006, 1012, 1013]);
const FIRST_RETRY_MS = 250;
const LONGEST_RETRY_MS = 10_000;

const isCloseEvent = (error: unknown): error is { code: number; reason: string } =>
  typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'number';

/** Node's WebSocket reports a dropped or refused connection as an error event, before its close. */
const isConnectionLost = (error: unknown) =>
  (error instanceof Event && error.type === 'error') || (isCloseEvent(error) && PASSING_CLOSES.has(error.code));

/**
 * Subscription.events over graphql-ws, resumed across lost connections: each new subscription
 * starts after the cursor of the last item handed out, so no event is missed or repeated.
 * Iterating again later (after a `break`) resumes from there too.
 */
export class LiveEvents implements AsyncIterable<LiveItem> {
  readonly #url: string;
  readonly #apiKey: string;
  readonly #filter: Omit<LiveEventsOptions, 'after'>;
  #cursor: string | null;

  constructor({ url, apiKey }: Credentials, { after = null, ...filter }: LiveEventsOptions) {
    const ws = new URL(url);
    ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
    this.#url = ws.href;
    this.#apiKey = apiKey;
    this.#filter = filter;
    this.#cursor = after;
  }

  /**
   * The cursor of the last item handed out, caught-up markers included: a marker's cursor is
   * where the log stood, so a subscription started from now on loses nothing if it drops
   * before its first event. Keep it to resume in another process (`after`).
   */
  get cursor(): string | null {
    return this.#cursor;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<LiveItem, void, undefined> {
    // Retries are ours, not graphql-ws's: it would send the first subscription's `after` again.
    const client = createClient({
      url: this.#url,
      connectionParams: { authorization: `Bearer ${this.#apiKey}` },
      retryAttempts: 0,
    });
    try {
      for (let failures = 0; ;) {
        const variables: LiveEventsSubscriptionVariables = { ...this.#filter, after: this.#cursor };
        try {
          for await (const result of client.iterate<LiveEventsSubscription>({ query: LiveEventsDocument.toString(), variables })) {
            const item = dataOf(result).events;
            this.#cursor = item.cursor;
            failures = 0;
            yield item;
          }
          return; // The server ended the subscription.
        } catch (error) {
          if (!isConnectionLost(error)) throw refusal(error);
          failures += 1;
          const backoff = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** (failures - 1));
          // Jittered, so that clients cut off together do not all come back at once.
          await sleep(backoff / 2 + (Math.random() * backoff) / 2);
        }
      }
    } finally {
      await client.dispose();
    }
  }
}

/** What graphql-ws threw, as the error to give the caller. */
function refusal(error: unknown): unknown {
  // A document refused before it runs (invalid for the server's schema, or not persisted) comes as a list.
  if (Array.isArray(error)) return new FlowledgerError(error[0] as WireError);
  if (isCloseEvent(error) && error.code === 4403) {
    return new FlowledgerError({ message: error.reason || 'the credential was refused', extensions: { code: 'UNAUTHENTICATED' } });
  }
  if (isCloseEvent(error)) return new Error(`the server closed the connection: ${error.code} ${error.reason}`);
  return error;
}
