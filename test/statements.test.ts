import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { DEFINITION } from './support/definitions.ts';

let app: TestApp;
beforeAll(async () => {
  // No live-log poll, database check, sweep, engine, recount of the quota or fresh lookup of the
  // test's key (on a loaded machine two requests can be more than the default 2 s apart): their
  // reads would land in the counts.
  app = await startTestApp({
    authCacheTtlMs: 600_000,
    livePollIntervalMs: 60_000,
    workflowCountTrustMs: 600_000,
    databaseCheckIntervalMs: 60_000,
    executionSweepIntervalMs: 600_000,
    runExecutions: false,
  });
  for (let i = 0; i < 100; i += 1) {
    const { data } = await app.gql(`mutation($n: String!) { createWorkflow(input: { name: $n, definition: ${DEFINITION} }) { id } }`, {
      n: `wf ${i}`,
    });
    await app.gql('mutation($id: ID!) { updateWorkflow(input: { id: $id, expectedVersion: 1, description: "v2" }) { id } }', {
      id: data!.createWorkflow.id,
    });
  }
});
afterAll(() => app.close());

const LIST = `query($first: Int) {
  workflows(first: $first) {
    edges { node { id name createdBy { id name }
      latestEvents(first: 3) { type version actor { name } } } }
  }
}`;

/** Until this process's live log has read everything committed: it reads each new event once, in one statement. */
async function settled(): Promise<void> {
  const head = await app.services.store.logHead();
  while (app.services.live.head.globalPosition < head.globalPosition) await new Promise((done) => setTimeout(done, 5));
}

/** What `run` returns, and the SQL statements this process sent to PostgreSQL meanwhile. */
async function counted<T>(run: () => Promise<T>): Promise<{ result: T; statements: number }> {
  await app.gql('{ me { id } }'); // the key is then cached, so authentication adds nothing below
  await settled(); // and the live log's read of what was written before is not counted
  const before = app.services.db.statementCount();
  const result = await run();
  return { result, statements: app.services.db.statementCount() - before };
}

/** SQL statements sent while listing `first` workflows. */
async function statementsFor(first: number): Promise<number> {
  const { result: data, statements } = await counted(async () => {
    const { data, errors } = await app.gql(LIST, { first });
    expect(errors).toBeUndefined();
    return data!;
  });
  expect(data.workflows.edges).toHaveLength(first);
  for (const { node } of data.workflows.edges) {
    expect(node.latestEvents.map((e: any) => e.version)).toEqual([2, 1]);
    expect(node.createdBy.name).toBe('editor');
  }
  return statements;
}

describe('no N+1', () => {
  it('lists 100 workflows with creators, latest events and their actors in a bounded number of statements', async () => {
    const forTen = await statementsFor(10);
    const forHundred = await statementsFor(100);
    expect(forHundred).toBe(forTen);
    // The page (plain SQL), its creators (one batched Prisma query), the latest events, their actors.
    expect(forHundred).toBeLessThanOrEqual(5);
  });
});

describe('no N+1 for executions', () => {
  it('lists executions with their steps, workflow and starter in a bounded number of statements', async () => {
    const workflowId = (await app.gql('{ workflows(first: 1) { edges { node { id } } } }')).data!.workflows.edges[0].node.id;
    for (let i = 0; i < 30; i += 1)
      await app.gql('mutation($w: ID!) { executeWorkflow(input: { workflowId: $w }) { id } }', { w: workflowId });
    const statements = async (first: number) => {
      const { result: data, statements } = await counted(async () => {
        const { data, errors } = await app.gql(
          'query($first: Int) { executions(first: $first) { edges { node { id status steps { id } workflow { name } createdBy { name } } } } }',
          { first },
        );
        expect(errors).toBeUndefined();
        return data!;
      });
      expect(data.executions.edges).toHaveLength(first);
      expect(data.executions.edges[0].node).toMatchObject({ status: 'PENDING', steps: [], createdBy: { name: 'editor' } });
      return statements;
    };
    const forFive = await statements(5);
    expect(await statements(30)).toBe(forFive);
  });
});

describe('authentication under a crowd', () => {
  it('looks an uncached key up once, however many requests ask at the same moment', async () => {
    const issued = await app.services.identity.createUser(app.workspaceId, 'crowd', 'VIEWER');
    const before = app.services.db.statementCount();
    const actors = await Promise.all(Array.from({ length: 100 }, () => app.services.identity.authenticate(issued.apiKey)));
    expect(actors.every((actor) => actor?.userId === issued.userId)).toBe(true);
    expect(app.services.db.statementCount() - before).toBeLessThanOrEqual(2);
  });
});

describe('round trips of a command', () => {
  const commandStatements = async (query: string, variables: Record<string, unknown>) => {
    await settled();
    const { result: data, statements } = await counted(async () => {
      const { data, errors } = await app.gql(query, variables);
      expect(errors).toBeUndefined();
      await settled();
      return data!;
    });
    // Less the live log's one read of the new event (and the statement that settled asks).
    return { data, statements: statements - 2 };
  };

  it('creates, then updates a stream this process wrote last, without reading it first: one statement appends and projects', async () => {
    const create = (name: string) =>
      commandStatements(`mutation { createWorkflow(input: { name: "${name}", definition: ${DEFINITION} }) { id } }`, {});
    // The first create of a workspace counts its workflows (the quota), once.
    const first = await create('counts');
    const created = await create('trips');
    expect(first.statements).toBeLessThanOrEqual(2);
    expect(created.statements).toBe(1);
    const updated = await commandStatements(
      'mutation($id: ID!) { updateWorkflow(input: { id: $id, expectedVersion: 1, description: "v2" }) { version } }',
      {
        id: created.data.createWorkflow.id,
      },
    );
    expect(updated).toMatchObject({ statements: 1, data: { updateWorkflow: { version: 2 } } });
  });
});
