import { describe, expect, it } from 'vitest';
import type { Role } from '../domain/identity/roles.ts';
import { SPEC_ACTOR, SPEC_WORKSPACE } from '../domain/testing/decider-specification.ts';
import { workflowAggregate, type WorkflowCommand, type WorkflowState } from '../domain/workflows/workflow.ts';
import { InMemoryEventStreams } from '../store/testing/in-memory-event-streams.ts';
import { CommandHandler, type Projection } from './command-handler.ts';
import type { RequestScope } from './request.ts';

// Command handling against streams in memory: load, decide, append, project, with the
// idempotency, the kept states and the conflicts it promises, and no database.

const rules = { maxBytes: 1000, actions: new Set(['transform']), maxSteps: 100 };
const definition = { startAt: 'Done', nodes: { Done: { type: 'succeed' } } };
const ID = '0190a000-0000-7000-8000-000000000001';
const OTHER_ID = '0190a000-0000-7000-8000-000000000002';
const scope = (userId = SPEC_ACTOR, workspaceId = SPEC_WORKSPACE, role: Role = 'EDITOR'): RequestScope => ({
  actor: { userId, workspaceId, role },
  requestId: 'request',
  correlationId: 'request',
});
const create = (id = ID): WorkflowCommand => ({ kind: 'create', id, name: 'one', definition, rules });
const update = (expectedVersion: number, name: string, id = ID): WorkflowCommand => ({ kind: 'update', id, expectedVersion, name, rules });

function setUp() {
  const store = new InMemoryEventStreams();
  const projected: WorkflowState[] = [];
  const project: Projection<WorkflowState> = async (_tx, state) => void projected.push(state);
  const run = (handler: CommandHandler, command: WorkflowCommand, options: { key?: string; as?: RequestScope; id?: string } = {}) =>
    handler.handle(workflowAggregate, options.id ?? command.id, command, options.as ?? scope(), project, {
      operation: command.kind,
      createsStream: command.kind === 'create',
      idempotencyKey: options.key,
    });
  return { store, projected, run, handler: new CommandHandler(store) };
}

describe('CommandHandler', () => {
  it('appends what decide returns at the version it decided on, and projects the state inside the append', async () => {
    const { store, projected, run, handler } = setUp();
    await run(handler, create());
    const result = await run(handler, update(1, 'two'));
    expect(result.version).toBe(2);
    expect(result.state?.name).toBe('two');
    expect((await store.readStream({ type: 'Workflow', id: ID })).map((event) => [event.version, event.type])).toEqual([
      [1, 'WorkflowCreated'],
      [2, 'WorkflowUpdated'],
    ]);
    expect(projected.map((state) => state?.version)).toEqual([1, 2]);
  });

  it('a row projection: the append writes the row of the state it makes, and the answer is folded from what was stored', async () => {
    const { store, handler } = setUp();
    const rowOf: Projection<WorkflowState> = {
      row: (state) =>
        state && { table: 'workflows', values: { id: state.id, name: state.name, version: state.version }, insertOnly: [], eventTimes: {} },
    };
    const created = await handler.handle(workflowAggregate, ID, create(), scope(), rowOf, { operation: 'create', createsStream: true });
    const updated = await handler.handle(workflowAggregate, ID, update(1, 'two'), scope(), rowOf, { operation: 'update' });
    expect(store.rows.map((row) => row.values)).toEqual([
      { id: ID, name: 'one', version: 1 },
      { id: ID, name: 'two', version: 2 },
    ]);
    expect(store.statements).toEqual([]);
    const [first, second] = await store.readStream({ type: 'Workflow', id: ID });
    expect([created.state?.createdAt, updated.state?.updatedAt]).toEqual([first!.createdAt, second!.createdAt]);
  });

  it('decides on the state it kept: a second command reads nothing from the store', async () => {
    const { store, run, handler } = setUp();
    await run(handler, create());
    let reads = 0;
    const readFoldable = store.readFoldable.bind(store);
    store.readFoldable = (...args) => ((reads += 1), readFoldable(...args));
    await run(handler, update(1, 'two'));
    await run(handler, update(2, 'three'));
    expect(reads).toBe(0);
  });

  it('answers a retry with the same key with the first call, writing nothing', async () => {
    const { store, run, handler } = setUp();
    const first = await run(handler, create(), { key: 'k' });
    await run(handler, update(1, 'two'));
    const appends = store.appends;
    const again = await run(handler, create(), { key: 'k' });
    expect(store.appends).toBe(appends);
    expect(again.version).toBe(1);
    expect(again.state).toEqual(first.state);
    // Another process, which kept nothing, answers the same.
    expect((await run(new CommandHandler(store), create(), { key: 'k' })).state).toEqual(first.state);
  });

  it('refuses a key used for the same operation on another aggregate, and treats the same key of another user as another call', async () => {
    const { store, run, handler } = setUp();
    await run(handler, create(), { key: 'k' });
    await run(handler, create(OTHER_ID));
    await run(handler, update(1, 'two', OTHER_ID), { key: 'u' });
    await expect(run(handler, update(1, 'two'), { key: 'u' })).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    const other = await run(handler, create('0190a000-0000-7000-8000-000000000003'), {
      key: 'k',
      as: scope('0190a000-0000-7000-8000-0000000000bb'),
    });
    expect(other.version).toBe(1);
    expect(await store.findByEventIds(other.events.map((event) => event.eventId))).toHaveLength(1);
  });

  it('stores nothing when the projection fails, and the next command sees the stream as it was', async () => {
    const { store, run, handler } = setUp();
    await run(handler, create());
    const failing: Projection<WorkflowState> = async () => {
      throw new Error('the read model refused');
    };
    await expect(handler.handle(workflowAggregate, ID, update(1, 'two'), scope(), failing, { operation: 'update' })).rejects.toThrow(
      'the read model refused',
    );
    expect(await store.readStream({ type: 'Workflow', id: ID })).toHaveLength(1);
    expect((await run(handler, update(1, 'three'))).version).toBe(2);
  });

  it('decides again on the stored stream when another process wrote since: a refusal on a kept state is not final', async () => {
    const { run, store, handler } = setUp();
    await run(handler, create());
    await run(new CommandHandler(store), update(1, 'elsewhere'));
    // The kept state is at version 1, so it refuses expectedVersion 2; the stream itself accepts it.
    const result = await run(handler, update(2, 'here'));
    expect(result.version).toBe(3);
    expect(result.state?.name).toBe('here');
  });

  it('never lets a write decided on a moved stream through: the append conflicts and the stored stream decides', async () => {
    const { run, store, handler } = setUp();
    await run(handler, create());
    store.beforeNextAppend = () => run(new CommandHandler(store), update(1, 'first'));
    await expect(run(handler, update(1, 'second'))).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
    expect((await store.readStream({ type: 'Workflow', id: ID })).map((event) => (event.data as { name?: string }).name)).toEqual([
      'one',
      'first',
    ]);
  });

  it('reads another workspace\u2019s stream as empty and cannot append to it', async () => {
    const { run, store, handler } = setUp();
    await run(handler, create());
    const stranger = scope('0190a000-0000-7000-8000-0000000000cc', '0190a000-0000-7000-8000-0000000000ee');
    await expect(run(handler, update(1, 'taken'), { as: stranger })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(run(handler, create(), { as: stranger })).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
    expect(await store.readStream({ type: 'Workflow', id: ID })).toHaveLength(1);
  });
});
