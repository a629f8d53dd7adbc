import { httpLoad, type HttpLoadResult, type Stage } from './support/http-load.ts';
import { CREATE_WORKFLOW, DEFINITION } from './support/operations.ts';
import { body, pick, type Target } from './support/target.ts';

// The old system's user: list workflows (weight 3), get one (2), create one (1).
const LIST = 'query { workflows(first: 20) { edges { node { id name version updatedAt } } } }';
const GET = 'query($id: ID!) { workflow(id: $id) { id name description version definition } }';

/** Up to `max` ids of the caller's workflows; creates `max` when there are none, so gets have something to read. */
export async function workflowIds(target: Target, max: number): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  while (ids.length < max) {
    const { workflows } = await target.gql(
      'query($after: String) { workflows(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }',
      { after },
    );
    ids.push(...workflows.edges.map((edge: { node: { id: string } }) => edge.node.id));
    if (!workflows.pageInfo.hasNextPage) break;
    after = workflows.pageInfo.endCursor;
  }
  if (ids.length > 0) return ids.slice(0, max);
  for (let n = 0; n < max; n += 1) {
    ids.push((await target.gql(CREATE_WORKFLOW, { d: DEFINITION, n: `load ${n}` })).createWorkflow.id);
  }
  return ids;
}

/** The read mix over `stages`, reading the workflows of `ids`. */
export function readMix(target: Target, ids: readonly string[], stages: readonly Stage[]): Promise<HttpLoadResult> {
  const get = { setupRequest: (request: object) => ({ ...request, body: body(GET, { id: pick(ids) }) }) };
  const create = {
    setupRequest: (request: object) => ({ ...request, body: body(CREATE_WORKFLOW, { d: DEFINITION, n: `load ${Math.random()}` }) }),
  };
  return httpLoad(target, [{ body: body(LIST) }, { body: body(LIST) }, { body: body(LIST) }, get, get, create], stages);
}

/** The same user over the REST routes: list (3), get (2), create (1), answered by the same GraphQL operations. */
export function restMix(target: Target, ids: readonly string[], stages: readonly Stage[]): Promise<HttpLoadResult> {
  const list = { method: 'GET' as const, path: '/api/agent-builder/workflows?limit=20' };
  const get = {
    method: 'GET' as const,
    setupRequest: (request: object) => ({ ...request, path: `/api/agent-builder/workflows/${pick(ids)}` }),
  };
  const create = {
    path: '/api/agent-builder/workflows',
    setupRequest: (request: object) => ({ ...request, body: JSON.stringify({ name: `load ${Math.random()}`, definition: DEFINITION }) }),
  };
  return httpLoad(target, [list, list, list, get, get, create], stages);
}

/** Ramps to `connections` virtual users: a quarter of the time at a quarter, a quarter at half, the rest at all of them. */
export function ramp(connections: number, seconds: number): Stage[] {
  return [
    { connections: Math.max(1, Math.round(connections / 4)), seconds: Math.max(1, Math.round(seconds / 4)) },
    { connections: Math.max(1, Math.round(connections / 2)), seconds: Math.max(1, Math.round(seconds / 4)) },
    { connections, seconds: Math.max(1, seconds - 2 * Math.round(seconds / 4)) },
  ];
}
