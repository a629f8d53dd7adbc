import { loopFor } from './support/loops.ts';
import { UPDATE_WORKFLOW } from './support/operations.ts';
import { ms, percentile } from './support/stats.ts';
import { body, pick, type Target } from './support/target.ts';

async function versionsOf(target: Target, ids: readonly string[]): Promise<Map<string, number>> {
  const versions = new Map<string, number>();
  for (const id of ids) versions.set(id, (await target.gql('query($id: ID!) { workflow(id: $id) { version } }', { id })).workflow.version);
  return versions;
}

type Answer = { data?: { updateWorkflow: { version: number } }; errors?: { extensions: { code: string; actualVersion?: number } }[] };

/**
 * `writers` clients updating the workflows `targets` with expected versions for `seconds`; a
 * conflict takes the version the error names and tries the same update again, as a client
 * would. An update's latency runs from its first try to its commit, retries included. Checked
 * through the API afterwards: every stream moved by exactly the updates acknowledged on it,
 * each acknowledged version once (lost or duplicated events show there). Other writers on
 * the same workflows during the run would show as lost, and so would an update that committed
 * but whose answer never came (a timeout).
 */
export async function appendLoad(target: Target, targets: readonly string[], writers: number, seconds: number) {
  const before = await versionsOf(target, targets);
  const versions = new Map(before);
  const acknowledged = new Map<string, Set<number>>(targets.map((id) => [id, new Set()]));
  const latencies: number[] = [];
  let requests = 0;
  let conflicts = 0;
  let errors = 0;
  let duplicated = 0;
  const began = performance.now();
  await loopFor(writers, seconds, () => {
    let id = pick(targets);
    let started = performance.now();
    return async () => {
      requests += 1;
      const answer = await target
        .post(body(UPDATE_WORKFLOW, { id, v: versions.get(id), d: `load ${Math.random()}` }))
        .then((response) => response.json() as Promise<Answer>)
        .catch((): Answer => ({}));
      const error = answer.errors?.[0]?.extensions;
      if (error?.code === 'VERSION_CONFLICT') {
        conflicts += 1;
        versions.set(id, error.actualVersion!);
        return;
      }
      if (error || !answer.data) errors += 1;
      else {
        const version = answer.data.updateWorkflow.version;
        latencies.push(performance.now() - started);
        if (acknowledged.get(id)!.has(version)) duplicated += 1;
        acknowledged.get(id)!.add(version);
        versions.set(id, Math.max(versions.get(id)!, version));
      }
      id = pick(targets);
      started = performance.now();
    };
  });
  // The loops end with their last request, after the deadline.
  const elapsed = (performance.now() - began) / 1000;
  const after = await versionsOf(target, targets);
  let lost = 0;
  for (const id of targets) lost += Math.abs(after.get(id)! - before.get(id)! - acknowledged.get(id)!.size);
  return {
    writers,
    committedPerSecond: Math.round(latencies.length / elapsed),
    p50Ms: ms(percentile(latencies, 50)),
    p95Ms: ms(percentile(latencies, 95)),
    p99Ms: ms(percentile(latencies, 99)),
    conflictsRetried: conflicts,
    errors,
    requests,
    lost,
    duplicated,
    committed: latencies.length,
  };
}
