import { describe, expect, it } from 'vitest';
import { fold } from '../domain/aggregate.ts';
import { AppError } from '../domain/errors.ts';
import { executionAggregate, type Execution } from '../domain/executions/execution.ts';
import type { StoredEvent } from '../store/event-store.ts';
import { AnswerBudget } from './answer-budget.ts';
import { executionUpdates } from './execution-updates.ts';
import type { History } from './history.ts';
import type { LiveLog } from './live-log.ts';
import type { LiveItem } from './live-subscription.ts';

const ID = '0190f0f0-0000-7000-8000-000000000001';
const WORKSPACE = '0190f0f0-0000-7000-8000-0000000000ff';

/** The execution's stream: a start, then one step started and succeeded after another, then its end. */
const stream: StoredEvent[] = [
  { type: 'ExecutionStarted', data: { id: ID, workflowId: ID, workflowVersion: 1, definition: { startAt: 'A', nodes: {} }, input: {} } },
  ...['A', 'B', 'C'].flatMap((node) => [
    { type: 'StepStarted', data: { step: `${node}#1`, node, attempt: 1, input: null } },
    { type: 'StepSucceeded', data: { step: `${node}#1`, output: node } },
  ]),
  { type: 'ExecutionSucceeded', data: { output: 'C' } },
].map((event, index) => ({
  ...event,
  globalPosition: BigInt(index + 1),
  transactionId: BigInt(index + 1),
  eventId: `e${index}`,
  workspaceId: WORKSPACE,
  aggregateType: 'Execution',
  aggregateId: ID,
  version: index + 1,
  dataBytes: JSON.stringify(event.data).length,
  metadata: { workspaceId: WORKSPACE, actorId: null, requestId: 'r', correlationId: 'c', causationId: null },
  createdAt: new Date(1_700_000_000_000 + index),
  hash: '',
}));

const stateAt = (version: number) => fold(executionAggregate, stream.slice(0, version)) as Execution;
const item = (version: number): LiveItem => ({ position: stream[version - 1]!, event: stream[version - 1]!, caughtUp: true });

/** A live log whose one subscription hands out what the test pushes, and a history that folds the stream up to `head`. */
function fakes(head: { version: number }) {
  const queue: LiveItem[] = [];
  let waiting: (() => void) | undefined;
  let ended = false;
  const subscription = {
    poll: () =>
      ended ? { done: true as const, value: undefined } : queue.length > 0 ? { done: false as const, value: queue.shift()! } : undefined,
    async next(): Promise<IteratorResult<LiveItem>> {
      for (;;) {
        const step = subscription.poll();
        if (step) return step;
        await new Promise<void>((resolve) => (waiting = resolve));
      }
    },
    async return() {
      ended = true;
      waiting?.();
      return { done: true as const, value: undefined };
    },
  };
  const reads: number[] = [];
  const history = {
    replay: async () => {
      reads.push(head.version);
      return { state: stateAt(head.version) };
    },
  } as unknown as History;
  const live = { subscribe: () => subscription } as unknown as LiveLog;
  const push = (...items: LiveItem[]) => {
    queue.push(...items);
    waiting?.();
  };
  return { history, live, push, reads, ended: () => ended };
}

const UNPACED = new AnswerBudget(Number.MAX_SAFE_INTEGER);

describe('executionUpdates', () => {
  it('gives the state now, then one update for the events that arrive together, and skips events it has folded', async () => {
    const head = { version: 2 };
    const { history, live, push, reads } = fakes(head);
    const updates = executionUpdates(history, live, WORKSPACE, ID, async () => true, UNPACED);
    expect(((await updates.next()).value as Execution).version).toBe(2);
    push(item(2), item(3), item(4));
    const next = (await updates.next()).value as Execution;
    expect(next).toEqual(stateAt(4));
    expect(Object.values(next.steps).map((step) => [step.node, step.status])).toEqual([
      ['A', 'SUCCEEDED'],
      ['B', 'RUNNING'],
    ]);
    expect(reads).toEqual([2]);
    await updates.return!();
  });

  it('reads the stream again when an event is missing, and ends once the execution has ended', async () => {
    const head = { version: 1 };
    const ends: number[] = [];
    const onEnd = () => void ends.push(1);
    const { history, live, push, reads, ended } = fakes(head);
    const updates = executionUpdates(history, live, WORKSPACE, ID, async () => true, UNPACED, onEnd);
    await updates.next();
    head.version = 5;
    push(item(4), item(5));
    expect(((await updates.next()).value as Execution).version).toBe(5);
    expect(reads).toEqual([1, 5]);
    push(item(6), item(7), item(8));
    expect(((await updates.next()).value as Execution).status).toBe('SUCCEEDED');
    expect(await updates.next()).toEqual({ done: true, value: undefined });
    expect(ended()).toBe(true);
    expect(ends).toEqual([1]);
  });

  it('delivers a failure that arrives with events after their update, then ends, calling onEnd once', async () => {
    const head = { version: 1 };
    const ends: number[] = [];
    const onEnd = () => void ends.push(1);
    const { history, live, push, ended } = fakes(head);
    const updates = executionUpdates(history, live, WORKSPACE, ID, async () => true, UNPACED, onEnd);
    await updates.next();
    const failure = new AppError('UNAUTHENTICATED', 'revoked');
    push(item(2), { position: stream[1]!, event: null, caughtUp: false, failure });
    expect(((await updates.next()).value as Execution).version).toBe(2);
    expect((await updates.next()).value).toBe(failure);
    expect(await updates.next()).toEqual({ done: true, value: undefined });
    expect(ended()).toBe(true);
    expect(ends).toEqual([1]);
  });

  it("waits for the workspace's read rate before each update, and ends with its refusal", async () => {
    const head = { version: 1 };
    const { history, live, push, ended } = fakes(head);
    const turns: number[] = [];
    const refusal = new AppError('RATE_LIMITED', 'read rate');
    const paced = new AnswerBudget(Number.MAX_SAFE_INTEGER, {
      turn: async () => {
        turns.push(turns.length);
        if (turns.length > 1) throw refusal;
      },
      charge: () => {},
    });
    const updates = executionUpdates(history, live, WORKSPACE, ID, async () => true, paced);
    await updates.next();
    push(item(2));
    expect(((await updates.next()).value as Execution).version).toBe(2);
    push(item(3));
    expect((await updates.next()).value).toBe(refusal);
    expect(ended()).toBe(true);
    expect(turns).toHaveLength(2);
  });

  it('answers an unknown or malformed id with NOT_FOUND, as an item', async () => {
    const { history, live } = fakes({ version: 0 });
    const none = { replay: async () => Promise.reject(new AppError('NOT_FOUND', 'no such stream')) } as unknown as History;
    for (const [source, id] of [
      [none, ID],
      [history, 'not-a-uuid'],
    ] as const) {
      const updates = executionUpdates(source, live, WORKSPACE, id, async () => true, UNPACED);
      expect(((await updates.next()).value as AppError).code).toBe('NOT_FOUND');
      expect((await updates.next()).done).toBe(true);
    }
  });
});
