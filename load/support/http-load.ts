import autocannon from 'autocannon';
import { latencySummary } from './stats.ts';
import type { Target } from './target.ts';

/** Concurrent connections held for a while: a load run is one or more of these in turn. */
export interface Stage {
  readonly connections: number;
  readonly seconds: number;
}

export interface HttpLoadResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  /** Transport errors, timeouts, non-2xx answers and answers with GraphQL errors. */
  readonly errors: number;
  readonly requests: number;
}

/**
 * autocannon through the stages in turn, each connection cycling through `requests` (POSTs
 * with the target's key). Latencies and errors are counted over all stages, as a client sees
 * them during a ramp. `requests` must not bring their own onResponse.
 */
export async function httpLoad(target: Target, requests: autocannon.Request[], stages: readonly Stage[]): Promise<HttpLoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let total = 0;
  // An answer with GraphQL errors, or any status but 2xx, is an error (counted here, once).
  const onResponse = (status: number, body: string) => {
    if (status < 200 || status > 299 || body.includes('"errors"')) errors += 1;
  };
  for (const stage of stages) {
    const result = await new Promise<autocannon.Result>((done, fail) => {
      const instance = autocannon(
        {
          url: target.url,
          connections: stage.connections,
          duration: stage.seconds,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${target.key}` },
          requests: requests.map((request) => ({ method: 'POST', ...request, onResponse })),
        },
        (error, finished) => (error ? fail(error) : done(finished)),
      );
      instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
    });
    // autocannon's own errors: connections that failed and requests that timed out.
    errors += result.errors;
    total += result.requests.total;
  }
  const seconds = stages.reduce((sum, stage) => sum + stage.seconds, 0);
  return {
    requestsPerSecond: Math.round(total / seconds),
    ...latencySummary(latencies),
    errors,
    requests: total,
  };
}
