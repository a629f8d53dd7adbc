import { sample } from './support/sample.ts';
import { body, type Target } from './support/target.ts';
import { CREATE_WORKFLOW, DEFINITION, UPDATE_WORKFLOW, WORKFLOW_VERSION } from './support/operations.ts';

/** A workflow with `versions` events, made through the API one update after another. */
export async function longWorkflow(target: Target, versions: number): Promise<string> {
  const { createWorkflow } = await target.gql(CREATE_WORKFLOW, { n: 'long', d: DEFINITION });
  for (let version = 1; version < versions; version += 1) {
    // A different description each time: an update that changes nothing appends nothing.
    await target.gql(UPDATE_WORKFLOW, { id: createWorkflow.id, v: version, d: `version ${version + 1}` });
  }
  return createWorkflow.id;
}

/**
 * Reads of one long workflow: its first replay (which reads all of it and leaves snapshots),
 * then replays to random versions and pages of its events from random versions.
 */
export async function replayLoad(target: Target, id: string, count: number, concurrency: number) {
  const { workflow } = await target.gql(WORKFLOW_VERSION, { id });
  const version = workflow.version as number;
  const random = () => 1 + Math.floor(Math.random() * version);
  const replay = (v: number) =>
    body('query($id: ID!, $v: Int) { replay(aggregateType: WORKFLOW, aggregateId: $id, toVersion: $v) { version } }', { id, v });
  const first = await sample(target, 1, 1, () => replay(version));
  const replays = await sample(target, count, concurrency, () => replay(random()));
  const events = await sample(target, count, concurrency, () =>
    body(
      'query($id: ID!, $v: Int) { events(aggregateType: WORKFLOW, aggregateId: $id, fromVersion: $v, first: 20) { edges { cursor } } }',
      { id, v: random() },
    ),
  );
  return {
    version,
    firstReplayMs: first.p99Ms,
    replays,
    events,
    p95Ms: Math.max(replays.p95Ms, events.p95Ms),
    p99Ms: Math.max(replays.p99Ms, events.p99Ms),
    errors: first.errors + replays.errors + events.errors,
    requests: first.requests + replays.requests + events.requests,
  };
}
