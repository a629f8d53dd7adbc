import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { generate } from '@graphql-codegen/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import codegenConfig from '../examples/client/codegen.ts';
import type { Execution, FlowledgerClient } from '../examples/client/src/client.ts';
import { FlowledgerError } from '../examples/client/src/errors.ts';
import type { LiveEvents, LiveItem } from '../examples/client/src/live.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

let app: TestApp;
let proxy: TcpProxy;
let Client: typeof FlowledgerClient;

beforeAll(async () => {
  // The client imports the generated code, which a fresh checkout does not have; an up-to-date
  // copy is left as it is.
  await generate({ ...codegenConfig, silent: true });
  ({ FlowledgerClient: Client } = await import('../examples/client/src/client.ts'));
  app = await startTestApp();
  // The live client goes through a proxy the test cuts: a real dropped WebSocket.
  proxy = await startTcpProxy(app.url);
});
afterAll(async () => {
  await proxy?.close();
  await app?.close();
});

/** One task (its step), then the end: the execution's output is its input with `greeted` added. */
const GREET = {
  startAt: 'Greet',
  nodes: {
    Greet: { type: 'task', action: 'transform', input: { greeting: '$.name' }, resultPath: '$.greeted', next: 'Done' },
    Done: { type: 'succeed' },
  },
};

const editor = () => new Client({ url: app.url, apiKey: app.keys.editor });

async function readWorkflow(id: string) {
  const { data, errors } = await app.gql('query($id: ID!) { workflow(id: $id) { id name description version definition } }', { id });
  expect(errors).toBeUndefined();
  return data!.workflow;
}

async function ended(client: FlowledgerClient, id: string): Promise<Execution> {
  for (;;) {
    const execution = await client.execution(id);
    if (execution && execution.status !== 'PENDING' && execution.status !== 'RUNNING') return execution;
    await sleep(25);
  }
}

/** The first item of a live feed: rejects with the error that ends it. */
async function firstItem(live: LiveEvents): Promise<LiveItem | undefined> {
  for await (const item of live) return item;
}

describe('the typed client example (examples/client)', () => {
  it('creates, updates, lists and executes workflows as the API reads them back', async () => {
    const client = editor();
    const prefix = `client-example ${randomUUID()}`;
    const created = await client.createWorkflow({ name: `${prefix} first`, definition: GREET });
    expect(created).toMatchObject({ name: `${prefix} first`, version: 1, status: 'ACTIVE', definition: GREET });

    const updated = await client.updateWorkflow({ id: created.id, expectedVersion: 1, name: `${prefix} greeter`, description: 'greets' });
    expect(updated).toMatchObject({ id: created.id, version: 2, name: `${prefix} greeter`, description: 'greets' });
    expect(await readWorkflow(created.id)).toEqual({
      id: created.id,
      name: updated.name,
      description: updated.description,
      version: updated.version,
      definition: updated.definition,
    });

    for (const name of ['second', 'third']) await client.createWorkflow({ name: `${prefix} ${name}`, definition: GREET });
    const page = await client.listWorkflows({ first: 2, filter: { nameContains: prefix } });
    expect(page.totalCount).toBe(3);
    expect(page.edges).toHaveLength(2);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const listed = [];
    for await (const workflow of client.allWorkflows({ nameContains: prefix }, 2)) listed.push(workflow);
    const { data } = await app.gql(
      'query($prefix: String) { workflows(first: 100, filter: { nameContains: $prefix }) { edges { node { id name version } } } }',
      { prefix },
    );
    expect(listed.map(({ id, name, version }) => ({ id, name, version }))).toEqual(data!.workflows.edges.map((edge: any) => edge.node));
    expect(listed.map((workflow) => workflow.name)).toEqual([`${prefix} third`, `${prefix} second`, `${prefix} greeter`]);

    const started = await client.executeWorkflow({ workflowId: created.id, input: { name: 'Ada' } });
    expect(started).toMatchObject({ status: 'PENDING', workflowVersion: 2, input: { name: 'Ada' } });
    const execution = await ended(client, started.id);
    expect(execution).toMatchObject({ status: 'SUCCEEDED', output: { name: 'Ada', greeted: { greeting: 'Ada' } }, stepCount: 1 });
    expect(execution.steps).toMatchObject([{ node: 'Greet', status: 'SUCCEEDED', attempt: 1, output: { greeting: 'Ada' } }]);
    const read = await app.gql('query($id: ID!) { execution(id: $id) { id status output stepCount steps { id node status output } } }', {
      id: started.id,
    });
    expect(read.data!.execution).toEqual({
      id: execution.id,
      status: execution.status,
      output: execution.output,
      stepCount: execution.stepCount,
      steps: execution.steps.map(({ id, node, status, output }) => ({ id, node, status, output })),
    });
    expect(await client.execution(randomUUID())).toBeNull();
  });

  it("a stale expectedVersion is a FlowledgerError with the server's code and details, and writes nothing", async () => {
    const client = editor();
    const workflow = await client.createWorkflow({ name: `stale ${randomUUID()}`, definition: GREET });
    await client.updateWorkflow({ id: workflow.id, expectedVersion: 1, name: 'renamed' });

    const error = await client.updateWorkflow({ id: workflow.id, expectedVersion: 1, name: 'too late' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FlowledgerError);
    expect(error).toMatchObject({ code: 'VERSION_CONFLICT', extensions: { expectedVersion: 1, actualVersion: 2 } });
    const raw = await app.gql('mutation($id: ID!) { updateWorkflow(input: { id: $id, expectedVersion: 1, name: "raw" }) { version } }', {
      id: workflow.id,
    });
    expect((error as FlowledgerError).code).toBe(raw.errors![0]!.extensions.code);
    expect(await readWorkflow(workflow.id)).toMatchObject({ name: 'renamed', version: 2 });

    // A refusal with an HTTP status of its own (401) is a GraphQL answer with its code too.
    const stranger = new Client({ url: app.url, apiKey: 'flk_unknown' });
    await expect(stranger.listWorkflows({})).rejects.toMatchObject({ name: 'FlowledgerError', code: 'UNAUTHENTICATED' });
  });

  it('live events arrive as they are written, and resume after a dropped WebSocket with no gap and no repeat', async () => {
    const writer = editor();
    const workflow = await writer.createWorkflow({ name: `live ${randomUUID()}`, definition: GREET });
    let version = workflow.version;
    const rename = async (times: number) => {
      for (let i = 0; i < times; i += 1) {
        version = (await writer.updateWorkflow({ id: workflow.id, expectedVersion: version, name: `live v${version + 1}` })).version;
      }
    };

    const reader = new Client({ url: proxy.url, apiKey: app.keys.viewer });
    const live = reader.liveEvents({ aggregateType: 'WORKFLOW', aggregateId: workflow.id });
    const acceptedBefore = proxy.accepted;
    const items: LiveItem[] = [];
    for await (const item of live) {
      items.push(item);
      const events = items.filter((seen) => seen.event).length;
      if (items.length === 1) {
        // From now on: the marker first, then three events live.
        await rename(3);
      } else if (events === 3 && item.event) {
        // Cut the socket, and hold the reconnection until three more events are stored.
        proxy.stall();
        proxy.cutAll();
        await rename(3);
        proxy.resume();
      } else if (item.event === null) {
        await rename(2);
      }
      // The last write: a client that missed or repeated events still gets here, and fails below.
      if (item.event?.version === 9) break;
    }

    expect(items.map((item) => [item.event?.version ?? null, item.caughtUp])).toEqual([
      [null, true],
      [2, true],
      [3, true],
      [4, true],
      // Missed while disconnected: read from the store after the last cursor, then the marker again.
      [5, false],
      [6, false],
      [7, false],
      [null, true],
      [8, true],
      [9, true],
    ]);
    expect(proxy.accepted - acceptedBefore).toBeGreaterThanOrEqual(2);
    const { data } = await app.gql(
      'query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id, fromVersion: 2) { edges { node { id } } } }',
      { id: workflow.id },
    );
    const received = items.flatMap((item) => (item.event ? [item.event.id] : []));
    expect(received).toEqual(data!.events.edges.map((edge: any) => edge.node.id));
    expect(new Set(received).size).toBe(8);
    expect(live.cursor).toBe(items.at(-1)!.cursor);
  });

  it('ends live events with a FlowledgerError, not retries, when the server refuses them', async () => {
    const stranger = new Client({ url: app.url, apiKey: 'flk_unknown' });
    await expect(firstItem(stranger.liveEvents())).rejects.toMatchObject({ name: 'FlowledgerError', code: 'UNAUTHENTICATED' });
    const viewer = new Client({ url: app.url, apiKey: app.keys.viewer });
    await expect(firstItem(viewer.liveEvents({ after: 'not a cursor' }))).rejects.toMatchObject({
      name: 'FlowledgerError',
      code: 'BAD_USER_INPUT',
    });
  });
});
