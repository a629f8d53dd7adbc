import { describe, expect, it } from 'vitest';
import { SPEC_ACTOR, SPEC_WORKSPACE } from '../domain/testing/decider-specification.ts';
import { InMemoryEventStreams } from '../store/testing/in-memory-event-streams.ts';
import { LeaseLostError } from '../app/execution-projection.ts';
import { openJournal } from './execution-run.ts';
import { BudgetExhausted } from './journal.ts';

// An execution's journal against streams in memory: how it batches, where it fences, and how
// it keeps the execution to its budget, with no database.

const ID = '0190a000-0000-7000-8000-000000000001';
const OWNER = 'engine-a';
const budget = { maxSteps: 3, maxEvents: 100, maxBytes: 10_000, timeoutMs: 60_000, maxConditionMs: 100 };
const definition = { startAt: 'A', nodes: { A: { type: 'task', action: 'transform', end: true } } };
const started = (step: string) => ({ type: 'StepStarted' as const, data: { step, node: 'A', attempt: 1, input: {} } });
const succeeded = (step: string) => ({ type: 'StepSucceeded' as const, data: { step, output: { step } } });

async function setUp() {
  const store = new InMemoryEventStreams();
  await store.append(
    { type: 'Execution', id: ID },
    [
      {
        eventId: '0190a000-0000-7000-8000-0000000000e1',
        type: 'ExecutionStarted',
        data: { id: ID, workflowId: '0190a000-0000-7000-8000-000000000002', workflowVersion: 1, definition, input: {}, budget },
      },
    ],
    {
      expectedVersion: 'NO_STREAM',
      metadata: { workspaceId: SPEC_WORKSPACE, actorId: SPEC_ACTOR, requestId: 'r', correlationId: 'r', causationId: null },
    },
  );
  store.statements.length = 0;
  store.appends = 0;
  let exhausted = 0;
  const opened = await openJournal(store, OWNER, ID, budget, () => (exhausted += 1));
  const types = async () => (await store.readStream({ type: 'Execution', id: ID })).map((event) => event.type);
  return { store, journal: opened!.journal, types, exhausted: () => exhausted };
}

describe('Journal', () => {
  it('stores what is noted while an append is under way in the next one, in order, fenced by its lease', async () => {
    const { store, journal, types } = await setUp();
    const first = journal.record(started('A#1'));
    journal.note(succeeded('A#1'));
    journal.note(started('A#2'));
    await Promise.all([first, journal.record(succeeded('A#2'))]);
    expect(await types()).toEqual(['ExecutionStarted', 'StepStarted', 'StepSucceeded', 'StepStarted', 'StepSucceeded']);
    expect(store.appends).toBe(2);
    // Every projection of a runner names its lease owner, which the statement checks.
    expect(store.statements.filter((statement) => statement.text.includes('INSERT INTO executions')).map((s) => s.values[12])).toEqual([
      OWNER,
      OWNER,
    ]);
    expect(journal.stored().version).toBe(5);
    expect(journal.state()).toEqual(journal.stored());
  });

  it('refuses everything after an append its lease fenced out, and stores none of it', async () => {
    const { store, journal, types } = await setUp();
    store.rowCount = 0;
    await expect(journal.record(started('A#1'))).rejects.toBeInstanceOf(LeaseLostError);
    store.rowCount = 1;
    await expect(journal.record(succeeded('A#1'))).rejects.toBeInstanceOf(LeaseLostError);
    expect(() => journal.note(started('A#2'))).toThrow(LeaseLostError);
    expect(await types()).toEqual(['ExecutionStarted']);
    expect(journal.stored().version).toBe(1);
  });

  it('stops at a write of another process in between: the append conflicts, and the journal stays stopped', async () => {
    const { store, journal, types } = await setUp();
    store.beforeNextAppend = () =>
      store.append({ type: 'Execution', id: ID }, [{ eventId: '0190a000-0000-7000-8000-0000000000e2', ...started('A#1') }], {
        expectedVersion: 1,
        metadata: { workspaceId: SPEC_WORKSPACE, actorId: null, requestId: 'b', correlationId: 'r', causationId: null },
      });
    await expect(journal.record(started('A#1'))).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
    await expect(journal.record(succeeded('A#1'))).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
    expect(await types()).toEqual(['ExecutionStarted', 'StepStarted']);
  });

  it('refuses what the execution refuses, and stops there', async () => {
    const { journal, types } = await setUp();
    await expect(journal.record(succeeded('never-started'))).rejects.toThrow('does not follow');
    await expect(journal.record(started('A#1'))).rejects.toThrow('does not follow');
    expect(await types()).toEqual(['ExecutionStarted']);
  });

  it('writes ExecutionFailed with BudgetExceeded in place of the step past the budget, and nothing after', async () => {
    const { store, journal, types, exhausted } = await setUp();
    for (const step of ['A#1', 'A#2', 'A#3']) {
      await journal.record(started(step));
      await journal.record(succeeded(step));
    }
    await expect(journal.record(started('A#4'))).rejects.toBeInstanceOf(BudgetExhausted);
    await journal.settle();
    expect(exhausted()).toBe(1);
    expect(() => journal.note(started('A#5'))).toThrow(BudgetExhausted);
    const events = await store.readStream({ type: 'Execution', id: ID });
    expect((await types()).slice(-2)).toEqual(['StepSucceeded', 'ExecutionFailed']);
    expect(events.at(-1)!.data).toMatchObject({
      error: { name: 'BudgetExceeded', message: 'the execution ran its 3 steps, all its budget allows' },
    });
    expect(journal.stored().status).toBe('FAILED');
  });

  it('weighs each event against the bytes left before writing it out', async () => {
    const { journal, types } = await setUp();
    await journal.record(started('A#1'));
    await expect(journal.record({ type: 'StepSucceeded', data: { step: 'A#1', output: 'x'.repeat(20_000) } })).rejects.toBeInstanceOf(
      BudgetExhausted,
    );
    await journal.settle();
    expect(await types()).toEqual(['ExecutionStarted', 'StepStarted', 'ExecutionFailed']);
    expect(journal.bytes).toBeLessThan(budget.maxBytes);
  });
});
