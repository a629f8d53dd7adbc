import { describe, expect, it } from 'vitest';
import { fold } from '../aggregate.ts';
import { AppError, VersionConflictError } from '../errors.ts';
import { decide, evolve, workflowAggregate, type WorkflowEvent, type WorkflowState } from './workflow.ts';

const rules = { maxBytes: 1000, actions: new Set(['transform', 'log']), maxSteps: 10_000 };
const id = '0190a000-0000-7000-8000-000000000001';
const actor = '0190a000-0000-7000-8000-0000000000aa';

/** Stores decided events as the store would: numbered, timed, attributed. */
function history(...batches: WorkflowEvent[][]) {
  return batches.flat().map((event, index) => ({
    ...event,
    version: index + 1,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, index)),
    metadata: { actorId: actor, workspaceId: 'w1' },
  }));
}

/** The smallest valid definition; `step` makes two of them differ. */
const definition = (step?: string) => ({ startAt: 'Done', nodes: { Done: { type: 'succeed' } }, ...(step ? { metadata: { step } } : {}) });
const created = decide({ kind: 'create', id, name: ' Onboarding ', definition: definition('a'), rules }, null);
const createdState = fold(workflowAggregate, history(created));

function errorOf(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    return error as AppError;
  }
  throw new Error('expected an error');
}

describe('decide', () => {
  it('creates with a trimmed name and an empty description by default', () => {
    expect(created).toEqual([
      { type: 'WorkflowCreated', data: { id, name: 'Onboarding', description: '', definition: definition('a') } },
    ]);
  });

  it.each([
    ['an empty name', { name: '  ' }, 'name'],
    ['a long name', { name: 'x'.repeat(201) }, 'name'],
    ['a long description', { description: 'x'.repeat(4001) }, 'description'],
    ['a definition that is a list', { definition: [1] }, 'definition'],
    ['a definition that is a string', { definition: 'x' }, 'definition'],
    ['a missing definition', { definition: undefined }, 'definition'],
    ['a definition over the size limit', { definition: { ...definition(), metadata: { big: 'x'.repeat(2000) } } }, 'definition'],
    ['a definition that does not hold together', { definition: { startAt: 'Nowhere', nodes: { Done: { type: 'succeed' } } } }, 'definition'],
  ])('refuses %s, naming the field', (_label, change, field) => {
    const error = errorOf(() =>
      decide({ kind: 'create', id, name: 'ok', definition: definition(), rules, ...change }, null),
    );
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', details: { field } });
  });

  it('refuses to create a workflow twice', () => {
    const error = errorOf(() => decide({ kind: 'create', id, name: 'x', definition: definition(), rules }, createdState));
    expect(error.code).toBe('BAD_USER_INPUT');
  });

  it('records only what an update changes, and nothing when nothing changes', () => {
    const update = { kind: 'update' as const, id, expectedVersion: 1, rules };
    expect(decide({ ...update, name: 'Renamed', definition: definition('a') }, createdState)).toEqual([
      { type: 'WorkflowUpdated', data: { name: 'Renamed' } },
    ]);
    expect(decide({ ...update, description: 'why', definition: definition('b') }, createdState)).toEqual([
      { type: 'WorkflowUpdated', data: { description: 'why', definition: definition('b') } },
    ]);
    expect(decide({ ...update, name: 'Onboarding' }, createdState)).toEqual([]);
  });

  it('refuses a stale expected version with both versions', () => {
    const error = errorOf(() => decide({ kind: 'update', id, expectedVersion: 3, name: 'x', rules }, createdState));
    expect(error).toBeInstanceOf(VersionConflictError);
    expect(error).toMatchObject({ expectedVersion: 3, actualVersion: 1 });
  });

  it('treats missing and deleted workflows as not found', () => {
    const deleted = fold(workflowAggregate, history(created, [{ type: 'WorkflowDeleted', data: {} }]));
    for (const state of [null, deleted]) {
      expect(errorOf(() => decide({ kind: 'delete', id, expectedVersion: 2 }, state)).code).toBe('NOT_FOUND');
      expect(errorOf(() => decide({ kind: 'update', id, expectedVersion: 2, name: 'x', rules }, state)).code).toBe(
        'NOT_FOUND',
      );
    }
  });
});

describe('evolve', () => {
  it('folds the lifecycle into the state replay and the read model share', () => {
    const events = history(
      created,
      [{ type: 'WorkflowUpdated', data: { name: 'Renamed' } }],
      [{ type: 'WorkflowDeleted', data: {} }],
    );
    const states = events.reduce<WorkflowState[]>(
      (all, event) => [...all, evolve(all.at(-1) ?? null, event, event)],
      [],
    );
    expect(states.map((s) => [s?.name, s?.status, s?.version])).toEqual([
      ['Onboarding', 'ACTIVE', 1],
      ['Renamed', 'ACTIVE', 2],
      ['Renamed', 'DELETED', 3],
    ]);
    expect(states[2]).toMatchObject({
      createdAt: events[0]!.createdAt,
      updatedAt: events[2]!.createdAt,
      createdById: actor,
    });
  });

  it('ignores updates to a workflow that was never created', () => {
    expect(evolve(null, { type: 'WorkflowUpdated', data: { name: 'x' } }, history(created)[0]!)).toBeNull();
  });
});
