import { expect } from 'vitest';
import type { TestApp } from './app.ts';

export const EXECUTION_FIELDS = `id status workflowVersion input output version error { name message node }
  steps { id node attempt status input output error { name message node } startedAt endedAt retryAt durationMs }`;

const CREATE = 'mutation($input: CreateWorkflowInput!) { createWorkflow(input: $input) { id version } }';
const EXECUTE = `mutation($input: ExecuteWorkflowInput!) { executeWorkflow(input: $input) { ${EXECUTION_FIELDS} } }`;

type Gql = Pick<TestApp, 'gql'>['gql'];

export async function createWorkflow(gql: Gql, definition: unknown, name = 'Engine test'): Promise<{ id: string; version: number }> {
  const { data, errors } = await gql(CREATE, { input: { name, definition } });
  expect(errors).toBeUndefined();
  return data!.createWorkflow;
}

export async function execute(gql: Gql, workflowId: string, input: unknown = {}, idempotencyKey?: string) {
  const { data, errors } = await gql(EXECUTE, { input: { workflowId, input, idempotencyKey } });
  expect(errors).toBeUndefined();
  return data!.executeWorkflow;
}

/** Polls Query.execution until the execution has ended (or until the test's own timeout). */
export async function ended(gql: Gql, id: string, everyMs = 25) {
  for (;;) {
    const { data, errors } = await gql(`query($id: ID!) { execution(id: $id) { ${EXECUTION_FIELDS} } }`, { id });
    expect(errors).toBeUndefined();
    const execution = data!.execution;
    if (!['PENDING', 'RUNNING'].includes(execution.status)) return execution;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Creates a workflow of the definition, runs it on the input, and waits for its end. */
export async function run(gql: Gql, definition: unknown, input: unknown = {}) {
  const workflow = await createWorkflow(gql, definition);
  const started = await execute(gql, workflow.id, input);
  return ended(gql, started.id);
}
