import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

describe('unexpected errors', () => {
  it('are masked for the client, logged for us, and the server keeps answering', async () => {
    const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await app.database.db.pool.query('ALTER TABLE events RENAME TO events_elsewhere');
    try {
      const { errors, data } = await app.gql('{ eventLog { edges { cursor } } }');
      expect(data).toBeNull();
      expect(errors).toEqual([expect.objectContaining({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } })]);
      expect(JSON.stringify(errors)).not.toMatch(/events|relation|SELECT|at /);
      const line = JSON.parse(String(logged.mock.calls.at(-1)![0]));
      expect(line).toMatchObject({ level: 'error', message: 'unexpected error in a request' });
      expect(line.error).toMatch(/events/);
    } finally {
      await app.database.db.pool.query('ALTER TABLE events_elsewhere RENAME TO events');
      logged.mockRestore();
    }
    expect((await app.gql('{ eventLog { edges { cursor } } }')).errors).toBeUndefined();
  });
});

describe('messages', () => {
  it('say "workflow <id> was not found" and "execution <id> was not found" alike, wherever the id is looked up', async () => {
    const id = '0190f0f0-0000-7000-8000-000000000000';
    const workflowMisses = [
      app.gql('mutation($id: ID!) { updateWorkflow(input: { id: $id, expectedVersion: 1, name: "x" }) { id } }', { id }),
      app.gql('mutation($id: ID!) { executeWorkflow(input: { workflowId: $id }) { id } }', { id }),
      app.gql('query($id: ID!) { replay(aggregateType: WORKFLOW, aggregateId: $id) { version } }', { id }),
      app.gql('query($id: ID!) { verifyAuditTrail(aggregateType: WORKFLOW, aggregateId: $id) { intact } }', { id }, app.keys.admin),
    ];
    for (const miss of await Promise.all(workflowMisses)) {
      expect(miss.errors![0]).toMatchObject({ message: `workflow ${id} was not found`, extensions: { code: 'NOT_FOUND', id } });
    }
    const executionMisses = [
      app.gql('mutation($id: ID!) { cancelExecution(input: { id: $id }) { id } }', { id }),
      app.gql('query($id: ID!) { replay(aggregateType: EXECUTION, aggregateId: $id) { version } }', { id }),
      app.gql('query($id: ID!) { verifyAuditTrail(aggregateType: EXECUTION, aggregateId: $id) { intact } }', { id }, app.keys.admin),
    ];
    for (const miss of await Promise.all(executionMisses)) {
      expect(miss.errors![0]).toMatchObject({ message: `execution ${id} was not found`, extensions: { code: 'NOT_FOUND', id } });
    }
  });
});

describe('literals', () => {
  it('reads JSON and DateTime literals written in the document', async () => {
    const { data, errors } = await app.gql(`mutation {
      createWorkflow(input: { name: "literal", definition: { startAt: "Done", nodes: { Done: { type: "succeed" } }, metadata: { list: [1, 2.5, "x", true, null, ENUM_LIKE], nested: { a: {} } } } }) {
        id definition
      }
    }`);
    expect(errors).toBeUndefined();
    expect(data!.createWorkflow.definition.metadata).toEqual({ list: [1, 2.5, 'x', true, null, 'ENUM_LIKE'], nested: { a: {} } });
    const replay = await app.gql(
      `query($id: ID!) { replay(aggregateType: WORKFLOW, aggregateId: $id, at: "2000-01-01T00:00:00Z") { version } }`,
      { id: data!.createWorkflow.id },
    );
    expect(replay.data!.replay.version).toBe(0);
  });

  it('refuses a malformed DateTime literal and a variable inside a JSON literal', async () => {
    const date = await app.gql('{ auditLog(from: "last tuesday") { edges { cursor } } }', {}, app.keys.admin);
    expect(date.errors![0]!.message).toMatch(/ISO 8601/);
    const number = await app.gql('{ auditLog(from: 5) { edges { cursor } } }', {}, app.keys.admin);
    expect(number.errors![0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const variable = await app.gql('mutation($n: String) { createWorkflow(input: { name: "x", definition: { n: $n } }) { id } }', {
      n: 'x',
    });
    expect(variable.errors![0]!.message).toMatch(/variables inside a JSON literal/);
  });
});
