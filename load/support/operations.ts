import type { Target } from './target.ts';

/** The operations the load scripts send, and the one-node definition they create workflows with. */
export const DEFINITION = { startAt: 'Done', nodes: { Done: { type: 'succeed' } } };
export const CREATE_WORKFLOW = 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id version } }';
export const UPDATE_WORKFLOW =
  'mutation($id: ID!, $v: Int!, $d: String!) { updateWorkflow(input: { id: $id, expectedVersion: $v, description: $d }) { version } }';
export const WORKFLOW_VERSION = 'query($id: ID!) { workflow(id: $id) { version } }';

/** A workflow of this definition, by the target's key; its id. */
export const createWorkflow = async (target: Target, definition: unknown): Promise<string> =>
  (await target.gql(CREATE_WORKFLOW, { n: 'bench', d: definition })).createWorkflow.id;

/** An execution of the workflow on this input; its id. */
export const startExecution = async (target: Target, workflowId: string, input: unknown = {}): Promise<string> =>
  (
    await target.gql('mutation($w: ID!, $i: JSON) { executeWorkflow(input: { workflowId: $w, input: $i }) { id } }', {
      w: workflowId,
      i: input,
    })
  ).executeWorkflow.id;

export const executionStatus = async (target: Target, id: string): Promise<string> =>
  (await target.gql('query($id: ID!) { execution(id: $id) { status } }', { id })).execution.status;

export const ENDED = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];
