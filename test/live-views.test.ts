import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { createWorkflow, ended, execute } from './support/executions.ts';
import { sse } from './support/sse.ts';
import { wsClient } from './support/ws.ts';

// A subscription lives for minutes or hours; everything its payloads resolve through a cache
// (folded steps, users, a workflow's row and its latest events) must be as of each payload's
// event, never as of the first payload.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ executionPollIntervalMs: 50, livePollIntervalMs: 100 });
});
afterAll(() => app.close());

const gql: TestApp['gql'] = (...args) => app.gql(...args);

const FOLLOW = `subscription($id: ID!) { executionUpdated(id: $id) {
  status version steps { node status } createdBy { name } workflow { name version latestEvents(first: 1) { version } }
} }`;

type Update = {
  status: string;
  version: number;
  steps: { node: string; status: string }[];
  createdBy: { name: string };
  workflow: { name: string; version: number; latestEvents: { version: number }[] };
};

/** Every payload of one subscription, over graphql-ws or SSE; `onFirst` runs once the first has arrived. */
async function follow(transport: 'ws' | 'sse', id: string, onFirst: () => Promise<void>): Promise<Update[]> {
  const seen: Update[] = [];
  const take = async (payload: { data?: { executionUpdated: Update } | null; errors?: unknown }) => {
    expect(payload.errors).toBeUndefined();
    seen.push(payload.data!.executionUpdated);
    if (seen.length === 1) await onFirst();
  };
  if (transport === 'ws') {
    const client = wsClient(app.url, app.keys.viewer);
    try {
      for await (const result of client.iterate({ query: FOLLOW, variables: { id } })) await take(result as never);
    } finally {
      await client.dispose();
    }
  } else {
    for await (const { event, data } of sse(app.url, FOLLOW, { id }, { authorization: `Bearer ${app.keys.viewer}` })) {
      if (event === 'next') await take(data);
    }
  }
  return seen;
}

const THREE_WAITS = {
  startAt: 'a',
  nodes: { a: { type: 'wait', ms: 250, next: 'b' }, b: { type: 'wait', ms: 250, next: 'c' }, c: { type: 'wait', ms: 250, end: true } },
};

describe('executionUpdated', () => {
  for (const transport of ['ws', 'sse'] as const) {
    it(`over ${transport}: each payload shows the steps, the workflow and the users as of its own event`, async () => {
      const workflow = await createWorkflow(gql, THREE_WAITS, `Live view ${transport}`);
      const started = await execute(gql, workflow.id);
      // While it runs, the workflow is renamed and its creator's name changes.
      const changeWhileRunning = async () => {
        const renamed = await gql('mutation($input: UpdateWorkflowInput!) { updateWorkflow(input: $input) { version } }', {
          input: { id: workflow.id, expectedVersion: 1, name: `Renamed ${transport}` },
        });
        expect(renamed.errors).toBeUndefined();
        await app.database.db.pool.query('UPDATE users SET name = $1 WHERE id = $2', [`editor (${transport})`, app.userIds.editor]);
      };
      const updates = await follow(transport, started.id, changeWhileRunning);
      await app.database.db.pool.query("UPDATE users SET name = 'editor' WHERE id = $1", [app.userIds.editor]);

      const last = updates.at(-1)!;
      const now = (await gql('query($id: ID!) { execution(id: $id) { status version steps { node status } } }', { id: started.id })).data!
        .execution;
      expect(last.status).toBe('SUCCEEDED');
      expect(last.steps).toEqual([
        { node: 'a', status: 'SUCCEEDED' },
        { node: 'b', status: 'SUCCEEDED' },
        { node: 'c', status: 'SUCCEEDED' },
      ]);
      expect({ status: last.status, version: last.version, steps: last.steps }).toEqual(now);
      expect(last.workflow).toEqual({ name: `Renamed ${transport}`, version: 2, latestEvents: [{ version: 2 }] });
      expect(last.createdBy).toEqual({ name: `editor (${transport})` });
      // Every payload's steps are those of its own version: the count of started steps never falls.
      const started_ = updates.map((update) => update.steps.length);
      expect(started_).toEqual([...started_].sort((a, b) => a - b));
      expect(updates.map((update) => update.version)).toEqual([...new Set(updates.map((update) => update.version))].sort((a, b) => a - b));
    });
  }

  it('a payload carries every event up to its version: its steps match a replay to that version', async () => {
    const workflow = await createWorkflow(gql, THREE_WAITS, 'Live view replay');
    const started = await execute(gql, workflow.id);
    const updates = await follow('ws', started.id, async () => {});
    await ended(gql, started.id);
    for (const update of updates) {
      const replay = await gql('query($id: ID!, $v: Int) { replay(aggregateType: EXECUTION, aggregateId: $id, toVersion: $v) { state } }', {
        id: started.id,
        v: update.version,
      });
      const steps = Object.values(replay.data!.replay.state.steps as Record<string, { node: string; status: string }>);
      expect(update.steps).toEqual(steps.map(({ node, status }) => ({ node, status })));
      expect(update.status).toBe(replay.data!.replay.state.status);
    }
  });
});

describe('Subscription.events', () => {
  it('loads the actors of the events one read of the log brings in one statement, not one per event', async () => {
    const client = wsClient(app.url, app.keys.viewer);
    try {
      const items = client.iterate({ query: 'subscription { events(types: ["Batched"]) { event { version actor { name } } } }' });
      expect((await items.next()).value).toMatchObject({ data: { events: { event: null } } });
      const before = app.database.db.statementCount();
      const events = Array.from({ length: 50 }, (_, n) => ({ eventId: crypto.randomUUID(), type: 'Batched', data: { n } }));
      await app.services.store.append({ type: 'Workflow', id: crypto.randomUUID() }, events, {
        expectedVersion: 'ANY',
        metadata: { workspaceId: app.workspaceId, actorId: app.userIds.editor, requestId: 'r', correlationId: 'c', causationId: null },
      });
      for (let n = 1; n <= 50; n += 1) {
        expect((await items.next()).value.data.events.event).toEqual({ version: n, actor: { name: 'editor' } });
      }
      // The append (a handful of statements), the tail's read, and the actors' load.
      expect(app.database.db.statementCount() - before).toBeLessThan(15);
    } finally {
      await client.dispose();
    }
  });

  const WATCH = 'subscription { events(types: ["WorkflowCreated"]) { caughtUp event { aggregateId actor { name } } } }';

  for (const transport of ['ws', 'sse'] as const) {
    it(`over ${transport}: an event's actor is the user as of that event`, async () => {
      const names: string[] = [];
      const created = async (name: string) => {
        await app.database.db.pool.query('UPDATE users SET name = $1 WHERE id = $2', [name, app.userIds.editor]);
        await createWorkflow(gql, THREE_WAITS, `Acted as ${name}`);
      };
      const onItem = async (item: { caughtUp: boolean; event: { actor: { name: string } } | null }) => {
        if (item.event) names.push(item.event.actor.name);
        if (item.event === null) await created('first name');
        else if (names.length === 1) await created('second name');
      };
      if (transport === 'ws') {
        const client = wsClient(app.url, app.keys.viewer);
        try {
          for await (const result of client.iterate({ query: WATCH })) {
            await onItem((result.data as { events: never }).events);
            if (names.length === 2) break;
          }
        } finally {
          await client.dispose();
        }
      } else {
        const stop = new AbortController();
        for await (const { event, data } of sse(app.url, WATCH, {}, { authorization: `Bearer ${app.keys.viewer}` }, stop.signal)) {
          if (event !== 'next') continue;
          await onItem(data.data.events);
          if (names.length === 2) break;
        }
        stop.abort();
      }
      await app.database.db.pool.query("UPDATE users SET name = 'editor' WHERE id = $1", [app.userIds.editor]);
      expect(names).toEqual(['first name', 'second name']);
    });
  }
});
