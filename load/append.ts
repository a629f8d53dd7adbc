import pLimit from 'p-limit';
import { loopFor } from './support/loops.ts';
import { UPDATE_WORKFLOW, WORKFLOW_VERSION } from './support/operations.ts';
import { latencySummary } from './support/stats.ts';
import { body, pick, type Target } from './support/target.ts';

/** The workflows' versions, 16 reads at a time: outside the timed loop, and quick. */
async function versionsOf(target: Target, ids: readonly string[]): Promise<Map<string, number>> {
  const limit = pLimit(16);
  return new Map(
    await Promise.all(
      ids.map((id) => limit(async () => [id, (await target.gql(WORKFLOW_VERSION, { id })).workflow.version as number] as const)),
    ),
  );
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
  let conflicts = 0;
  let errors = 0;
  let duplicated = 0;
  const elapsed = await loopFor(writers, seconds, () => {
    let id = pick(targets);
    let started = performance.now();
    return async () => {
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
  const after = await versionsOf(target, targets);
  let lost = 0;
  for (const id of targets) lost += Math.abs(after.get(id)! - before.get(id)! - acknowledged.get(id)!.size);
  return {
    writers,
    committedPerSecond: Math.round(latencies.length / elapsed),
    ...latencySummary(latencies),
    conflictsRetried: conflicts,
    errors,
    requests: latencies.length + conflicts + errors,
    lost,
    duplicated,
    committed: latencies.length,
  };
}
