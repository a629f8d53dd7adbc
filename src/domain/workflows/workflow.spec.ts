import { describe, expect, it } from 'vitest';
import { DeciderSpecification, SPEC_ACTOR, stored } from '../testing/decider-specification.ts';
import { decide, evolve, workflowAggregate, type WorkflowEvent, type WorkflowState } from './workflow.ts';

const rules = { maxBytes: 1000, actions: new Set(['transform', 'log']), maxSteps: 10_000 };
const id = '0190a000-0000-7000-8000-000000000001';

/** The smallest valid definition; `step` makes two of them differ. */
const definition = (step?: string) => ({
  startAt: 'Done',
  nodes: { Done: { type: 'succeed' as const } },
  ...(step ? { metadata: { step } } : {}),
});
const created = decide({ kind: 'create', id, name: ' Onboarding ', definition: definition('a'), rules }, null);
const spec = DeciderSpecification.for(workflowAggregate);
const create = (change: Record<string, unknown> = {}) => ({
  kind: 'create' as const,
  id,
  name: 'ok',
  definition: definition(),
  rules,
  ...change,
});
const update = (change: Record<string, unknown>) => ({ kind: 'update' as const, id, expectedVersion: 1, rules, ...change });

describe('decide', () => {
  it('creates with a trimmed name and an empty description by default', () => {
    spec
      .given([])
      .when(create({ name: ' Onboarding ', definition: definition('a') }))
      .then([{ type: 'WorkflowCreated', data: { id, name: 'Onboarding', description: '', definition: definition('a') } }]);
  });

  it.each([
    ['an empty name', { name: '  ' }, 'name'],
    ['a long name', { name: 'x'.repeat(201) }, 'name'],
    ['a long description', { description: 'x'.repeat(4001) }, 'description'],
    ['a definition that is a list', { definition: [1] }, 'definition'],
    ['a definition that is a string', { definition: 'x' }, 'definition'],
    ['a missing definition', { definition: undefined }, 'definition'],
    ['a definition over the size limit', { definition: { ...definition(), metadata: { big: 'x'.repeat(2000) } } }, 'definition'],
    [
      'a definition that does not hold together',
      { definition: { startAt: 'Nowhere', nodes: { Done: { type: 'succeed' } } } },
      'definition',
    ],
  ])('refuses %s, naming the field', (_label, change, field) => {
    spec.given([]).when(create(change)).thenThrows('BAD_USER_INPUT', { details: { field } });
  });

  it('refuses to create a workflow twice', () => {
    spec.given(created).when(create()).thenThrows('BAD_USER_INPUT');
  });

  it('records only what an update changes', () => {
    spec
      .given(created)
      .when(update({ name: 'Renamed', definition: definition('a') }))
      .then([{ type: 'WorkflowUpdated', data: { name: 'Renamed' } }]);
    spec
      .given(created)
      .when(update({ description: 'why', definition: definition('b') }))
      .then([{ type: 'WorkflowUpdated', data: { description: 'why', definition: definition('b') } }]);
  });

  it('records nothing when nothing changes', () => {
    spec
      .given(created)
      .when(update({ name: 'Onboarding' }))
      .then([]);
  });

  it('refuses a stale expected version with both versions', () => {
    spec
      .given(created)
      .when(update({ expectedVersion: 3, name: 'x' }))
      .thenThrows('VERSION_CONFLICT', { expectedVersion: 3, actualVersion: 1 });
  });

  it.each([
    ['missing', []],
    ['deleted', [...created, { type: 'WorkflowDeleted' as const, data: {} }]],
  ])('treats a %s workflow as not found', (_label, given) => {
    spec.given(given).when({ kind: 'delete', id, expectedVersion: 2 }).thenThrows('NOT_FOUND');
    spec
      .given(given)
      .when(update({ expectedVersion: 2, name: 'x' }))
      .thenThrows('NOT_FOUND');
  });
});

describe('evolve', () => {
  it('folds the lifecycle into the state replay and the read model share', () => {
    const events = stored([...created, { type: 'WorkflowUpdated', data: { name: 'Renamed' } }, { type: 'WorkflowDeleted', data: {} }]);
    const states = events.reduce<WorkflowState[]>((all, event) => [...all, evolve(all.at(-1) ?? null, event as WorkflowEvent, event)], []);
    expect(states.map((s) => [s?.name, s?.status, s?.version])).toEqual([
      ['Onboarding', 'ACTIVE', 1],
      ['Renamed', 'ACTIVE', 2],
      ['Renamed', 'DELETED', 3],
    ]);
    expect(states[2]).toMatchObject({
      createdAt: events[0]!.createdAt,
      updatedAt: events[2]!.createdAt,
      createdById: SPEC_ACTOR,
    });
  });

  it('ignores updates to a workflow that was never created', () => {
    expect(evolve(null, { type: 'WorkflowUpdated', data: { name: 'x' } }, stored(created)[0]!)).toBeNull();
  });
});
