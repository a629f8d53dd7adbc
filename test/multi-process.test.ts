import { createClient } from 'graphql-ws';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LISTENER_APPLICATION_NAME } from '../src/store/notifications.ts';
import { createEmptyDatabase } from './support/database.ts';
import { startServerProcess } from './support/processes.ts';

const stops: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

async function server(env: Record<string, string>, firstStart: boolean) {
  const started = await startServerProcess(env, { firstStart });
  stops.push(async () => {
    started.child.kill('SIGTERM');
    await started.exited;
  });
  return started;
}

describe('several server processes on one database', () => {
  it('an event appended through one process reaches subscribers of another, even after its LISTEN connection dies', async () => {
    const database = await createEmptyDatabase(2);
    stops.push(() => database.drop());
    // A slow poll, so that the test shows notifications and reconnection doing the work.
    const env = { DATABASE_URL: database.url, LIVE_POLL_INTERVAL_MS: '5000', NODE_ENV: 'production' };
    const a = await server(env, true);
    const key = a.adminKey!;
    const b = await server(env, false);
    const mutate = async (query: string, variables: Record<string, unknown> = {}) => (await b.gql(query, variables, key)).data;

    const client = createClient({
      url: a.url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${key}` },
    });
    stops.push(async () => client.dispose());
    const iterator = client.iterate({ query: 'subscription { events { caughtUp event { type version aggregateId } } }' });
    const next = async () => ((await iterator.next()).value as any).data.events;
    expect(await next()).toMatchObject({ caughtUp: true, event: null });

    const created = await mutate(
      'mutation { createWorkflow(input: { name: "cross", definition: { startAt: "Done", nodes: { Done: { type: "succeed" } } } }) { id } }',
    );
    const id = created.createWorkflow.id;
    expect(await next()).toMatchObject({ event: { type: 'WorkflowCreated', aggregateId: id } });

    const listeners = async () =>
      (
        await database.db.pool.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()', [
          LISTENER_APPLICATION_NAME,
        ])
      ).rows;
    expect(await listeners()).toHaveLength(2);
    await database.db.pool.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
      [LISTENER_APPLICATION_NAME],
    );

    // Appended while the listeners are down or reconnecting: delayed at worst, never lost.
    await mutate('mutation($id: ID!) { updateWorkflow(input: { id: $id, expectedVersion: 1, name: "two" }) { id } }', { id });
    expect(await next()).toMatchObject({ event: { type: 'WorkflowUpdated', version: 2 } });

    for (let tries = 0; (await listeners()).length < 2; tries += 1) {
      expect(tries).toBeLessThan(50);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await mutate('mutation($id: ID!) { updateWorkflow(input: { id: $id, expectedVersion: 2, name: "three" }) { id } }', { id });
    expect(await next()).toMatchObject({ event: { type: 'WorkflowUpdated', version: 3 } });
  });
});
