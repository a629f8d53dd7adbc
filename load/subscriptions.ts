import { startSubscribers } from './support/subscribers.ts';
import type { Target } from './support/target.ts';
import { CREATE_WORKFLOW, DEFINITION } from './support/operations.ts';

export interface SubscriptionLoadOptions {
  readonly subscribers: number;
  /** Workflows created through the API per second, each one event every subscriber gets. */
  readonly rate: number;
  readonly seconds: number;
  /** Where the subscribers run: this process, or a Go process (needs Go; far less CPU per message). */
  readonly client: 'node' | 'go';
  /** Called once every subscriber is connected and caught up, before the first append. */
  readonly onReady?: () => void;
}

/**
 * WebSocket subscribers (graphql-transport-ws, a socket each) to `events(types:
 * ["WorkflowCreated"])` while workflows are created at `rate` a second. Latency is from each
 * event's `createdAt` (taken at insert, just before commit) to its arrival; after the last
 * append it waits until every subscriber has every event, or nothing arrives for 5 s, then
 * counts missed and repeated deliveries.
 */
export async function subscriptionLoad(target: Target, options: SubscriptionLoadOptions) {
  const events = options.rate * options.seconds;
  const query = 'subscription { events(types: ["WorkflowCreated"]) { cursor event { aggregateId createdAt } } }';
  const subscribers = await startSubscribers(options.client, target.wsUrl, target.key, query, options.subscribers, events);
  options.onReady?.();
  const appended: string[] = [];
  let failedAppends = 0;
  let firstAppendError: string | undefined;
  const started = Date.now();
  const appends: Promise<unknown>[] = [];
  for (let n = 0; n < events; n += 1) {
    const due = started + (n * 1000) / options.rate;
    if (due > Date.now()) await new Promise((done) => setTimeout(done, due - Date.now()));
    appends.push(
      target.gql(CREATE_WORKFLOW, { n: `fan-out ${n}`, d: DEFINITION }).then(
        (data) => appended.push(data.createWorkflow.id),
        (error: Error) => {
          failedAppends += 1;
          firstAppendError ??= error.message.slice(0, 300);
        },
      ),
    );
  }
  await Promise.all(appends);
  const result = await subscribers.finish(appended);
  const { onReady: _, ...settings } = options;
  return {
    ...settings,
    appended: appended.length,
    appendedPerSecond: Math.round(appended.length / options.seconds),
    failedAppends,
    firstAppendError,
    ...result,
    // Each (subscriber, event) pair is one expected delivery; an append that failed is an error for all of them.
    errors: failedAppends * options.subscribers,
    requests: events * options.subscribers,
  };
}
