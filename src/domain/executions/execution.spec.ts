import { describe, expect, it } from 'vitest';
import { fold } from '../aggregate.ts';
import { DeciderSpecification, SPEC_ACTOR, stored } from '../testing/decider-specification.ts';
import { decide, evolve, executionAggregate, type ExecutionEvent, type ExecutionState, type ProgressEvent } from './execution.ts';

const id = '0193a000-0000-7000-8000-000000000001';
const definition = { startAt: 'Done', nodes: { Done: { type: 'succeed' as const } } };
const budget = { maxSteps: 10, maxEvents: 100, maxBytes: 10_000, timeoutMs: 60_000, maxConditionMs: 1000 };
const start = {
  kind: 'start' as const,
  id,
  workflow: { id: '0193a000-0000-7000-8000-000000000002', version: 3, definition },
  input: { a: 1 },
  rules: { maxInputBytes: 100, budget },
};

/** Folds events as the store would hand them back (stored: versions in order, a minute apart). */
const replay = (events: ExecutionEvent[]): ExecutionState => fold(executionAggregate, stored(events));

const spec = DeciderSpecification.for(executionAggregate);
const progress = (event: ProgressEvent) => ({ kind: 'progress' as const, event });

describe('the Execution aggregate', () => {
  const started = decide(start, null);
  const stepStarted: ProgressEvent = { type: 'StepStarted', data: { step: 'A#1', node: 'A', attempt: 1, input: {} } };
  const failed: ProgressEvent = { type: 'StepFailed', data: { step: 'A#1', error: { name: 'Timeout', message: 'slow' } } };

  it('starts PENDING with the workflow version and a copy of its definition, and runs once anything happens', () => {
    expect(started).toEqual([
      { type: 'ExecutionStarted', data: { id, workflowId: start.workflow.id, workflowVersion: 3, definition, input: { a: 1 }, budget } },
    ]);
    expect(replay(started)).toMatchObject({ status: 'PENDING', version: 1, createdById: SPEC_ACTOR, budget, stepsStarted: 0 });
    expect(replay([...started, stepStarted])).toMatchObject({ stepsStarted: 1 });
    expect(replay([...started, stepStarted])).toMatchObject({ status: 'RUNNING', steps: { 'A#1': { status: 'RUNNING', attempt: 1 } } });
  });

  it('refuses input that is not an object, too large, or holds NUL', () => {
    for (const input of [[1], { s: 'x'.repeat(200) }, { s: '\u0000' }])
      spec
        .given([])
        .when({ ...start, input })
        .thenThrows('BAD_USER_INPUT');
    expect(decide({ ...start, input: null }, null)[0]!.data).toMatchObject({ input: {} });
  });

  it("follows each step's life: started, an outcome, a retry of the next attempt", () => {
    const retry: ProgressEvent = {
      type: 'StepRetryScheduled',
      data: { step: 'A#1', attempt: 2, delayMs: 10, retryAt: '2026-01-01T00:00:10.000Z' },
    };
    const secondAttempt: ProgressEvent = { ...stepStarted, data: { ...stepStarted.data, attempt: 2 } };
    spec
      .given(started)
      .when(progress(failed))
      .thenFails(/StepFailed does not follow/);
    spec
      .given([...started, stepStarted, failed])
      .when(progress({ ...retry, data: { ...retry.data, attempt: 3 } }))
      .thenFails(/does not follow/);
    spec
      .given([...started, stepStarted, failed, retry])
      .when(progress(stepStarted))
      .thenFails(/does not follow/);
    spec
      .given([...started, stepStarted, failed, retry])
      .when(progress(secondAttempt))
      .then([secondAttempt]);
    // The same attempt again: its process stopped mid-step.
    spec
      .given([...started, stepStarted])
      .when(progress(stepStarted))
      .then([stepStarted]);
    expect(replay([...started, stepStarted, failed])!.steps['A#1']).toMatchObject({ status: 'FAILED', error: { name: 'Timeout' } });
    expect(replay([...started, stepStarted, failed, retry])!.steps['A#1']).toMatchObject({
      status: 'RETRY_SCHEDULED',
      retryAt: new Date('2026-01-01T00:00:10.000Z'),
    });
  });

  it("keeps a step's first start and its end for timings", () => {
    const done: ProgressEvent = { type: 'StepSucceeded', data: { step: 'A#1', output: 7 } };
    const step = replay([...started, stepStarted, done])!.steps['A#1']!;
    expect(step).toMatchObject({ status: 'SUCCEEDED', output: 7 });
    expect(step.endedAt!.getTime() - step.startedAt.getTime()).toBe(60_000);
  });

  it('ends once: nothing is accepted after its end, neither progress nor cancel', () => {
    const ended: ExecutionEvent[] = [...started, { type: 'ExecutionSucceeded', data: { output: 1 } }];
    expect(replay(ended)).toMatchObject({ status: 'SUCCEEDED', output: 1, endedAt: expect.any(Date) });
    spec
      .given(ended)
      .when(progress(stepStarted))
      .thenThrows('EXECUTION_FINISHED', { details: { status: 'SUCCEEDED' } });
    spec.given(ended).when({ kind: 'cancel', id }).thenThrows('EXECUTION_FINISHED');
    spec.given([]).when({ kind: 'cancel', id }).thenThrows('NOT_FOUND');
    spec.given(ended).when(start).thenThrows('BAD_USER_INPUT');
  });

  it('cancels with a reason', () => {
    const cancelled = decide({ kind: 'cancel', id, reason: 'no longer needed' }, replay(started));
    expect(replay([...started, ...cancelled])).toMatchObject({
      status: 'CANCELLED',
      error: { name: 'Cancelled', message: 'no longer needed' },
    });
    spec
      .given(started)
      .when({ kind: 'cancel', id, reason: 'x'.repeat(1001) })
      .thenThrows('BAD_USER_INPUT');
  });

  it('folds many events at once to what evolve gives one by one, leaving the state it started from as it was', () => {
    const events: ExecutionEvent[] = [...started];
    for (let i = 0; i < 50; i += 1) {
      const step = `M#1[${i}]/A#1`;
      events.push(
        { type: 'MapIterationStarted', data: { step: 'M#1', index: i } },
        { type: 'StepStarted', data: { step, node: 'A', attempt: 1, input: i } },
        i % 3 === 0
          ? { type: 'StepFailed', data: { step, error: { name: 'E', message: 'e' } } }
          : { type: 'StepSucceeded', data: { step, output: i } },
        { type: 'ChoiceTaken', data: { step: `M#1[${i}]/C#1`, node: 'C', case: 0, next: 'D' } },
        { type: 'MapIterationCompleted', data: { step: 'M#1', index: i, output: i } },
      );
    }
    events.push({ type: 'ExecutionSucceeded', data: { output: 'done' } });
    const envelopes = events.map((event, i) => ({
      event,
      envelope: { version: i + 1, createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)), metadata: { actorId: 'u1', workspaceId: 'w1' } },
    }));
    const oneByOne = envelopes.reduce<ExecutionState>((state, { event, envelope }) => evolve(state, event, envelope), null);
    expect(executionAggregate.evolveAll!(null, envelopes)).toEqual(oneByOne);

    const half = executionAggregate.evolveAll!(null, envelopes.slice(0, 100));
    const snapshot = structuredClone(half);
    expect(executionAggregate.evolveAll!(half, envelopes.slice(100))).toEqual(oneByOne);
    expect(half).toEqual(snapshot);
  });

  it('records choices and map iterations by step', () => {
    const state = replay([
      ...started,
      { type: 'ChoiceTaken', data: { step: 'C#1', node: 'C', case: -1, next: 'D' } },
      { type: 'MapIterationStarted', data: { step: 'M#1', index: 0 } },
      { type: 'MapIterationCompleted', data: { step: 'M#1', index: 0, output: 'x' } },
      { type: 'ExecutionTimedOut', data: { error: { name: 'Timeout', message: 'late' } } },
    ]);
    expect(state).toMatchObject({
      status: 'TIMED_OUT',
      choices: { 'C#1': { next: 'D' } },
      iterations: { 'M#1[0]': { completed: true, output: 'x' } },
    });
    expect(
      evolve(
        null,
        { type: 'StepSucceeded', data: { step: 'A#1', output: 1 } },
        { version: 1, createdAt: new Date(), metadata: { actorId: null, workspaceId: 'w1' } },
      ),
    ).toBeNull();
  });
});
