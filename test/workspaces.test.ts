import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { definition } from './support/definitions.ts';
import { createWorkflow, ended, execute } from './support/executions.ts';
import { sse } from './support/sse.ts';
import { wsClient } from './support/ws.ts';
import { restClient } from './support/rest.ts';

let app: TestApp;
let other: Awaited<ReturnType<TestApp['createWorkspace']>>;
/** Workspace A's things, which workspace B tries to reach. */
let mine: { workflowId: string; executionId: string; eventId: string; cursor: string };

beforeAll(async () => {
  app = await startTestApp();
  other = await app.createWorkspace('other');
  const workflow = await createWorkflow(app.gql, definition(), 'private');
  const execution = await execute(app.gql, workflow.id);
  await ended(app.gql, execution.id);
  const log = await app.gql('{ eventLog(first: 1) { edges { cursor node { id } } } }');
  mine = {
    workflowId: workflow.id,
    executionId: execution.id,
    eventId: log.data!.eventLog.edges[0].node.id,
    cursor: log.data!.eventLog.edges[0].cursor,
  };
});
afterAll(() => app.close());

const codeOf = (response: { errors?: { extensions: Record<string, any> }[] | undefined }) => response.errors?.[0]?.extensions.code;

describe('another workspace', () => {
  it('sees none of its workflows, executions, events, replays, audit entries or users', async () => {
    const as = (query: string, variables: Record<string, unknown> = {}) => app.gql(query, variables, other.keys.admin);
    const ids = { w: mine.workflowId, e: mine.executionId };
    expect((await as('query($w: ID!) { workflow(id: $w) { id } }', ids)).data!.workflow).toBeNull();
    expect((await as('{ workflows { edges { node { id } } } }')).data!.workflows.edges).toEqual([]);
    expect((await as('query($e: ID!) { execution(id: $e) { id } }', ids)).data!.execution).toBeNull();
    expect((await as('{ executions { edges { node { id } } } }')).data!.executions.edges).toEqual([]);
    expect((await as('query($w: ID!) { executions(workflowId: $w) { edges { node { id } } } }', ids)).data!.executions.edges).toEqual([]);
    expect(
      (await as('query($w: ID!) { events(aggregateType: WORKFLOW, aggregateId: $w) { edges { node { id } } } }', ids)).data!.events.edges,
    ).toEqual([]);
    expect(
      (await as('query($e: ID!) { events(aggregateType: EXECUTION, aggregateId: $e) { edges { node { id } } } }', ids)).data!.events.edges,
    ).toEqual([]);
    expect((await as('{ eventLog(first: 100) { edges { node { id } } } }')).data!.eventLog.edges).toEqual([]);
    // A cursor from workspace A resumes nothing of A's either.
    expect(
      (await as('query($c: String) { eventLog(after: $c) { edges { node { id } } } }', { c: mine.cursor })).data!.eventLog.edges,
    ).toEqual([]);
    expect((await as('{ auditLog(first: 100) { edges { node { id } } } }')).data!.auditLog.edges).toEqual([]);
    expect(
      (await as('query($u: ID!) { auditLog(userId: $u) { edges { node { id } } } }', { u: app.userIds.editor })).data!.auditLog.edges,
    ).toEqual([]);
    expect(codeOf(await as('query($w: ID!) { replay(aggregateType: WORKFLOW, aggregateId: $w) { version } }', ids))).toBe('NOT_FOUND');
    expect(codeOf(await as('query($w: ID!) { verifyAuditTrail(aggregateType: WORKFLOW, aggregateId: $w) { intact } }', ids))).toBe(
      'NOT_FOUND',
    );
    // The engine's figures are its own: A's finished execution is not among them.
    const engine = '{ systemStatus { engine { succeeded active queued } } }';
    expect((await as(engine)).data!.systemStatus.engine).toEqual({ succeeded: 0, active: 0, queued: 0 });
    expect((await app.gql(engine, {}, app.keys.admin)).data!.systemStatus.engine.succeeded).toBe(1);
    // Its own view still works, and names only its own users.
    expect((await app.gql('query($w: ID!) { workflow(id: $w) { createdBy { id } } }', ids)).data!.workflow.createdBy.id).toBe(
      app.userIds.editor,
    );
  });

  it('can change or run none of them, nor manage its users and keys, and writes nothing trying', async () => {
    const before = await app.database.snapshot();
    const as = (query: string, variables: Record<string, unknown>) => app.gql(query, variables, other.keys.admin);
    const w = mine.workflowId;
    expect(
      codeOf(await as('mutation($w: ID!) { updateWorkflow(input: { id: $w, expectedVersion: 1, name: "taken" }) { id } }', { w })),
    ).toBe('NOT_FOUND');
    expect(codeOf(await as('mutation($w: ID!) { deleteWorkflow(input: { id: $w, expectedVersion: 1 }) { id } }', { w }))).toBe('NOT_FOUND');
    expect(codeOf(await as('mutation($w: ID!) { executeWorkflow(input: { workflowId: $w }) { id } }', { w }))).toBe('NOT_FOUND');
    expect(codeOf(await as('mutation($e: ID!) { cancelExecution(input: { id: $e }) { id } }', { e: mine.executionId }))).toBe('NOT_FOUND');
    expect(codeOf(await as('mutation($u: ID!) { issueApiKey(userId: $u) { apiKey } }', { u: app.userIds.viewer }))).toBe('NOT_FOUND');
    const keyId = (await app.services.identity.issueKey(app.userIds.viewer)).keyId;
    const withKey = await app.database.snapshot();
    expect(codeOf(await as('mutation($k: ID!) { revokeApiKey(keyId: $k) }', { k: keyId }))).toBe('NOT_FOUND');
    expect(await app.database.snapshot()).toEqual(withKey);
    expect(Number(withKey.api_keys)).toBe(Number(before.api_keys) + 1);
    // Its admin creates users in its own workspace only.
    const created = await as('mutation { createUser(input: { name: "new", role: VIEWER }) { workspaceId } }', {});
    expect(created.data!.createUser.workspaceId).toBe(other.workspaceId);
  });

  it('never receives its events live, over WebSocket or SSE, and cannot follow its executions', async () => {
    const query = 'subscription { events { caughtUp event { id aggregateId } } }';
    const client = wsClient(app.url, other.keys.viewer);
    const overWs = client.iterate({ query });
    const overSse = sse(app.url, query, {}, { authorization: `Bearer ${other.keys.viewer}` });
    const ownWs = wsClient(app.url, app.keys.viewer);
    const own = ownWs.iterate({ query });
    try {
      expect((await overWs.next()).value!.data!.events.caughtUp).toBe(true);
      expect((await overSse.next()).value.data.data.events.caughtUp).toBe(true);
      expect((await own.next()).value!.data!.events.caughtUp).toBe(true);
      // An event in A, then one in B: B's subscribers get B's first, so A's never came.
      const inA = await createWorkflow(app.gql, definition(), 'live in A');
      expect((await own.next()).value!.data!.events.event.aggregateId).toBe(inA.id);
      const inB = await createWorkflow((q, v) => app.gql(q, v, other.keys.editor), definition(), 'live in B');
      expect((await overWs.next()).value!.data!.events.event.aggregateId).toBe(inB.id);
      expect((await overSse.next()).value.data.data.events.event.aggregateId).toBe(inB.id);

      const follow = await client
        .iterate({ query: 'subscription($e: ID!) { executionUpdated(id: $e) { id } }', variables: { e: mine.executionId } })
        .next();
      expect(follow.value!.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    } finally {
      await overWs.return!();
      await overSse.return(undefined);
      await own.return!();
      await client.dispose();
      await ownWs.dispose();
    }
  });

  it('over REST: its ids answer as unknown ids do, its lists are empty, and nothing is written trying', async () => {
    const before = await app.database.snapshot();
    const rest = restClient(app.url, other.keys.admin);
    const unknown = '0193a4f2-7c1e-7d2a-9b41-5f0e8c6d2a10';
    const byId = (id: string, execution: string): [string, string, unknown?, Record<string, string>?][] => [
      ['GET', `/api/agent-builder/workflows/${id}`],
      ['PATCH', `/api/agent-builder/workflows/${id}`, { name: 'taken' }, { 'if-match': '"1"' }],
      ['PUT', `/api/agent-builder/workflows/${id}`, { name: 'taken', description: '', definition: definition() }, { 'if-match': '"1"' }],
      ['DELETE', `/api/agent-builder/workflows/${id}`, undefined, { 'if-match': '"1"' }],
      ['POST', `/api/agent-builder/workflows/${id}/execute`, {}],
      ['GET', `/api/agent-builder/executions/${execution}`],
      ['POST', `/api/agent-builder/executions/${execution}/cancel`, {}],
      ['GET', `/api/events/replay/${id}?aggregate_type=Workflow`],
    ];
    const theirs = byId(mine.workflowId, mine.executionId);
    const none = byId(unknown, unknown);
    for (const [i, [method, path, body, headers]] of theirs.entries()) {
      const answer = await rest(method, path, { body, headers });
      const [, unknownPath, unknownBody, unknownHeaders] = none[i]!;
      const control = await rest(method, unknownPath, { body: unknownBody, headers: unknownHeaders });
      expect([path, answer.status, answer.body.code]).toEqual([path, 404, 'NOT_FOUND']);
      expect(answer.body.detail.replace(mine.workflowId, unknown).replace(mine.executionId, unknown)).toBe(control.body.detail);
    }
    const lists = [
      '/api/agent-builder/workflows',
      '/api/agent-builder/executions',
      `/api/agent-builder/executions?workflow_id=${mine.workflowId}`,
      `/api/events/aggregate/${mine.workflowId}?aggregate_type=Workflow`,
      `/api/events/aggregate/${mine.executionId}?aggregate_type=Execution`,
      `/api/events/audit?user_id=${app.userIds.editor}`,
      '/api/events/audit',
    ];
    // Workspace B has workflows of its own by now: none of A's may be among them.
    const ofA = new Set([mine.workflowId, mine.executionId, app.userIds.editor, app.userIds.admin, app.userIds.viewer]);
    for (const path of lists) {
      const answer = await rest('GET', path);
      expect(answer.status).toBe(200);
      const named = JSON.stringify(answer.body.items);
      expect([path, [...ofA].filter((id) => named.includes(id))]).toEqual([path, []]);
    }
    expect(await app.database.snapshot()).toEqual(before);
  });
});
