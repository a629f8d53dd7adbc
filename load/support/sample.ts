import { latencySummary } from './stats.ts';
import type { Target } from './target.ts';

/** `count` requests, `concurrency` at a time; a request whose answer has errors counts as one. */
export async function sample(target: Target, count: number, concurrency: number, request: () => string) {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        const started = performance.now();
        const answer = await target.post(request()).then(
          (response) => (response.ok ? response.text() : ''),
          () => '',
        );
        if (!answer || answer.includes('"errors"')) errors += 1;
        latencies.push(performance.now() - started);
      }
    }),
  );
  return { ...latencySummary(latencies), errors, requests: latencies.length };
}
