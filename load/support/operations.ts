/** The operations the load scripts send, and the one-node definition they create workflows with. */
export const DEFINITION = { startAt: 'Done', nodes: { Done: { type: 'succeed' } } };
export const CREATE_WORKFLOW = 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id version } }';
export const UPDATE_WORKFLOW = 'mutation($id: ID!, $v: Int!, $d: String!) { updateWorkflow(input: { id: $id, expectedVersion: $v, description: $d }) { version } }';
export const WORKFLOW_VERSION = 'query($id: ID!) { workflow(id: $id) { version } }';
