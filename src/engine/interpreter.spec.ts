import { describe, expect, it } from 'vitest';
import { fold } from '../domain/aggregate.ts';
import { executionAggregate, type Execution, type ExecutionEvent, type ProgressEvent } from '../domain/executions/execution.ts';
import { SPEC_ACTOR, SPEC_WORKSPACE } from '../domain/testing/decider-specification.ts';
import { ActionError } from './actions/action-error.ts';
import { runExecution, type Runtime } from './interpreter.ts';

// The interpreter against a runtime in memory: actions are stubs, the clock moves only when a
// step waits, randomness is fixed. Each case runs in well under a millisecond of real time.

type Stub = (input: unknown, call: number) => unknown;

interface Ran {
  readonly events: ExecutionEvent[];
  /** Calls of each action, in order, with the step that made them. */
  readonly calls: { action: string; step: string; input: unknown }[];
  /** How far the clock moved during the run. */
  readonly now: number;
  readonly state: Execution;
}

const budget = { maxSteps: 1000, maxEvents: 10_000, maxBytes: 1_000_000, timeoutMs: 60_000, maxConditionMs: 1000 };

/** Runs `definition` on `input`, after `history` (the events a run before this one recorded). */
async function run(
  definition: unknown,
  {
    input = {},
    actions = {},
    conditions = {},
    history = [] as ProgressEvent[],
  }: {
    input?: unknown;
    actions?: Record<string, Stub>;
    conditions?: Record<string, (data: unknown) => boolean>;
    history?: ProgressEvent[];
  } = {},
): Promise<Ran> {
  const events: ExecutionEvent[] = [
    {
      type: 'ExecutionStarted',
      data: {
        id: '0190a000-0000-7000-8000-000000000001',
        workflowId: '0190a000-0000-7000-8000-000000000002',
        workflowVersion: 1,
        definition: definition as never,
        input,
        budget,
      },
    },
    ...history,
  ];
  const calls: Ran['calls'] = [];
  const counts = new Map<string, number>();
  const start = Date.UTC(2026, 0, 1);
  let now = start;
  // Each event is stamped with the clock when it is recorded, as the store stamps it.
  const at = events.map(() => now);
  const push = (event: ProgressEvent) => {
    events.push(event);
    at.push(now);
  };
  const state = () =>
    fold(
      executionAggregate,
      events.map((event, i) => ({
        ...event,
        version: i + 1,
        createdAt: new Date(at[i]!),
        metadata: { actorId: SPEC_ACTOR, workspaceId: SPEC_WORKSPACE },
      })),
    ) as Execution;
  const runtime: Runtime = {
    state,
    record: async (event) => push(event),
    note: push,
    act: async (action, actionInput, _timeoutMs, signal, step) => {
      // As a real action: one whose run has stopped does not start.
      signal.throwIfAborted();
      calls.push({ action, step, input: actionInput });
      const call = (counts.get(action) ?? 0) + 1;
      counts.set(action, call);
      const stub = actions[action];
      if (!stub) throw new ActionError('UnknownAction', action);
      return stub(actionInput, call);
    },
    timer: (action, actionInput) => (action === 'sleep' ? (actionInput as { ms: number }).ms : null),
    pause: async (until) => {
      now = Math.max(now, until);
    },
    evaluate: async (condition, data) => ({ holds: conditions[condition]!(data), ms: 0 }),
    maxOutputBytes: 1_000_000,
    maxInputBytes: 1_000_000,
    now: () => now,
    random: () => 0.5,
  };
  await runExecution(runtime, new AbortController().signal);
  return { events, calls, now: now - start, state: state() };
}

const task = (action: string, rest: Record<string, unknown> = {}) => ({ type: 'task', action, end: true, ...rest });
const types = (events: readonly ExecutionEvent[]) => events.map((event) => event.type);

describe('the interpreter', () => {
  it('retries with backoff: the delays double, the clock waits them out, and the third attempt succeeds', async () => {
    const ran = await run(
      {
        startAt: 'Call',
        nodes: {
          Call: task('flaky', { retry: [{ errors: ['Flaky'], maxAttempts: 3, intervalMs: 100, backoffRate: 2 }], resultPath: '$.r' }),
        },
      },
      { actions: { flaky: (_input, call) => (call < 3 ? Promise.reject(new ActionError('Flaky', `call ${call}`)) : 'ok') } },
    );
    const delays = ran.events.flatMap((event) => (event.type === 'StepRetryScheduled' ? [event.data.delayMs] : []));
    expect(delays).toEqual([100, 200]);
    expect(ran.now).toBe(300);
    expect(ran.state).toMatchObject({ status: 'SUCCEEDED', output: { r: 'ok' }, steps: { 'Call#1': { attempt: 3, status: 'SUCCEEDED' } } });
  });

  it('with jitter, waits the fixed share of each delay', async () => {
    const ran = await run(
      { startAt: 'Call', nodes: { Call: task('flaky', { retry: [{ errors: ['*'], maxAttempts: 2, intervalMs: 1000, jitter: true }] }) } },
      { actions: { flaky: (_input, call) => (call < 2 ? Promise.reject(new ActionError('Flaky', 'no')) : 'ok') } },
    );
    expect(ran.now).toBe(500);
  });

  it('gives up after the last attempt, then catches the error into the data and goes on at the catch node', async () => {
    const ran = await run(
      {
        startAt: 'Call',
        nodes: {
          Call: task('boom', {
            end: undefined,
            next: 'After',
            retry: [{ errors: ['Boom'], maxAttempts: 2, intervalMs: 10 }],
            catch: [{ errors: ['Boom'], resultPath: '$.error', next: 'Handle' }],
          }),
          After: task('never'),
          Handle: task('handle', { input: { seen: '$.error.name' }, resultPath: '$.handled' }),
        },
      },
      { actions: { boom: () => Promise.reject(new ActionError('Boom', 'it broke')), handle: (input) => input } },
    );
    expect(ran.calls.map((call) => call.action)).toEqual(['boom', 'boom', 'handle']);
    expect(ran.state).toMatchObject({
      status: 'SUCCEEDED',
      output: { error: { name: 'Boom', message: 'it broke' }, handled: { seen: 'Boom' } },
    });
  });

  it("fails the execution with a map iteration's uncaught error, naming the node inside the map", async () => {
    const ran = await run(
      {
        startAt: 'Each',
        nodes: {
          Each: {
            type: 'map',
            itemsPath: '$.items',
            maxConcurrency: 1,
            iterator: { startAt: 'Shape', nodes: { Shape: task('shape') } },
            end: true,
          },
        },
      },
      {
        input: { items: [1, 2, 3] },
        actions: { shape: (item) => (item === 2 ? Promise.reject(new ActionError('BadItem', 'two')) : item) },
      },
    );
    expect(ran.state).toMatchObject({ status: 'FAILED', error: { name: 'BadItem', node: 'Each#1[1]/Shape' } });
    // One at a time: the third item never started.
    expect(ran.calls.map((call) => call.input)).toEqual([1, 2]);
  });

  it("fails the execution when a parallel branch fails, and gives the branches' outputs in order when none does", async () => {
    const parallel = (second: string) => ({
      startAt: 'Both',
      nodes: {
        Both: {
          type: 'parallel',
          branches: [
            { startAt: 'A', nodes: { A: task('a', { resultPath: '$' }) } },
            { startAt: 'B', nodes: { B: task(second, { resultPath: '$' }) } },
          ],
          resultPath: '$.both',
          end: true,
        },
      },
    });
    const actions = { a: () => 'from a', b: () => 'from b', broken: () => Promise.reject(new ActionError('Broken', 'b broke')) };
    expect((await run(parallel('b'), { actions })).state).toMatchObject({ status: 'SUCCEEDED', output: { both: ['from a', 'from b'] } });
    expect((await run(parallel('broken'), { actions })).state).toMatchObject({
      status: 'FAILED',
      error: { name: 'Broken', node: 'Both#1(1)/B' },
    });
  });

  it('ends a loop at its maxVisits with MaxVisitsExceeded', async () => {
    const ran = await run(
      {
        startAt: 'Count',
        nodes: {
          Count: task('count', { end: undefined, next: 'Again', resultPath: '$.n' }),
          Again: { type: 'choice', maxVisits: 3, cases: [{ condition: 'done', next: 'Done' }], default: 'Count' },
          Done: { type: 'succeed' },
        },
      },
      { actions: { count: (_input, call) => call }, conditions: { done: () => false } },
    );
    expect(ran.calls).toHaveLength(4);
    expect(ran.state).toMatchObject({ status: 'FAILED', error: { name: 'MaxVisitsExceeded' } });
  });

  it("times out a sleep longer than its task's timeoutMs, at the timeout", async () => {
    const ran = await run({ startAt: 'Nap', nodes: { Nap: task('sleep', { input: { ms: 1000 }, timeoutMs: 400 }) } });
    expect(ran.now).toBe(400);
    expect(ran.state).toMatchObject({ status: 'FAILED', error: { name: 'Timeout' } });
  });

  it('resumes from a partial history: a succeeded step is not run again, a running one runs its attempt again', async () => {
    const definition = {
      startAt: 'A',
      nodes: {
        A: task('a', { end: undefined, next: 'B', resultPath: '$.a' }),
        B: task('b', { end: undefined, next: 'C', resultPath: '$.b' }),
        C: task('c', { resultPath: '$.c' }),
      },
    };
    const history: ProgressEvent[] = [
      { type: 'StepStarted', data: { step: 'A#1', node: 'A', attempt: 1, input: {} } },
      { type: 'StepSucceeded', data: { step: 'A#1', output: 'recorded a' } },
      { type: 'StepStarted', data: { step: 'B#1', node: 'B', attempt: 1, input: { a: 'recorded a' } } },
    ];
    const ran = await run(definition, { history, actions: { a: () => 'a again', b: () => 'b', c: () => 'c' } });
    expect(ran.calls.map((call) => [call.action, call.step])).toEqual([
      ['b', 'B#1'],
      ['c', 'C#1'],
    ]);
    expect(types(ran.events.slice(4))).toEqual(['StepStarted', 'StepSucceeded', 'StepStarted', 'StepSucceeded', 'ExecutionSucceeded']);
    expect(ran.state).toMatchObject({ status: 'SUCCEEDED', output: { a: 'recorded a', b: 'b', c: 'c' }, steps: { 'B#1': { attempt: 1 } } });
  });
});
