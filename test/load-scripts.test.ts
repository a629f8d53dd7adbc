import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { npmRun } from './support/processes.ts';
import { ramp } from '../load/read-mix.ts';

// The load scripts against a server they did not start, as against any deployment. Their
// latency thresholds are set out of reach here (timing is not what these tests check),
// except where a test shows that a broken threshold fails the run.
describe('npm run load', () => {
  let app: TestApp;
  const LENIENT = { P95_MS: '60000', P99_MS: '60000' };
  const load = (script: string, env: Record<string, string>, key = app.keys.editor) =>
    npmRun('load', [script, '--url', app.url, '--key', key], { SECONDS: '2', ...LENIENT, ...env });
  const report = (stdout: string) => JSON.parse(stdout.slice(stdout.indexOf('{')));
  // The mix names what it creates `load 0.<random>`; the workflows it makes first to read are `load <n>`.
  const workflows = async () =>
    Number((await app.database.db.pool.query("SELECT count(*) AS n FROM workflows WHERE name LIKE 'load 0.%'")).rows[0].n);
  /**
   * A sixth of a read-mix run's requests create a workflow. Each connection of each ramp stage
   * cycles through the six requests from the first, the create last, so each may stop up to
   * five requests short of a create.
   */
  const expectASixth = (count: number, requests: number, vus: number) => {
    const connections = ramp(vus, 2).reduce((sum, stage) => sum + stage.connections, 0);
    expect(count).toBeGreaterThanOrEqual(Math.floor((requests - 5 * connections) / 6));
    expect(count).toBeLessThanOrEqual(Math.ceil(requests / 6));
  };

  beforeAll(async () => {
    // As the README asks of a server under load: the per-key rate limit would answer some requests 429.
    app = await startTestApp({ rateLimitPerSecond: 0 });
  });
  afterAll(() => app.close());

  it('read-mix ramps up, lists, gets and creates, and passes thresholds it meets', async () => {
    const before = await workflows();
    const run = await load('read-mix', { VUS: '4' });
    expect(run.stderr).not.toContain('threshold failed');
    expect(run.code).toBe(0);
    const result = report(run.stdout);
    expect(result).toMatchObject({ script: 'read-mix', errors: 0, passed: true });
    expect(result.requests).toBeGreaterThan(6);
    // The workflows it made first to read are not counted.
    expectASixth((await workflows()) - before, result.requests, 4);
  });

  it('exits 1 and names the threshold a run breaks', async () => {
    const run = await load('read-mix', { VUS: '2', P99_MS: '0' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/threshold failed: p99 [\d.]+ ms, not under 0 ms/);
    expect(report(run.stdout).passed).toBe(false);
  });

  it('counts answers with errors as errors: a viewer may list and get but not create', async () => {
    // The first test left workflows to read, so the script creates none before the load.
    const run = await load('read-mix', { VUS: '3' }, app.keys.viewer);
    expect(run.code).toBe(1);
    const result = report(run.stdout);
    // One request in six creates; each of those is refused with FORBIDDEN.
    expect(result.errors).toBeGreaterThan(0);
    expectASixth(result.errors, result.requests, 3);
    expect(run.stderr).toMatch(/threshold failed: errors [\d.]+%, not under 1%/);
  });

  it('append retries conflicts like a client and finds nothing lost or duplicated', async () => {
    // Two workflows for four writers: conflicts are certain.
    const run = await load('append', { WRITERS: '4', TARGETS: '2' });
    expect(run.code).toBe(0);
    const result = report(run.stdout);
    expect(result).toMatchObject({ script: 'append', errors: 0, lost: 0, duplicated: 0, passed: true });
    expect(result.committed).toBeGreaterThan(0);
    expect(result.conflictsRetried).toBeGreaterThan(0);
  });

  it('replay builds a long workflow and reads it at random versions', async () => {
    const run = await load('replay', { VERSIONS: '60', REQUESTS: '30', CONCURRENCY: '3' });
    expect(run.code).toBe(0);
    const result = report(run.stdout);
    expect(result).toMatchObject({ script: 'replay', version: 60, errors: 0, passed: true });
    expect(result.replays.requests).toBe(30);
    expect(result.events.requests).toBe(30);
  });

  it('subscriptions gets every event to every subscriber exactly once', async () => {
    const run = await load('subscriptions', { SUBSCRIBERS: '5', RATE: '10' });
    expect(run.code).toBe(0);
    expect(report(run.stdout)).toMatchObject({
      script: 'subscriptions',
      appended: 20,
      deliveries: 100,
      missed: 0,
      repeated: 0,
      passed: true,
    });
  });

  it('refuses a key the server does not take, before any load (exit 2)', async () => {
    const run = await load('read-mix', {}, 'flk_not-a-key');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('cannot use');
    expect(run.stdout).toBe('');
  });

  it('says how to call it when the script is unknown (exit 2)', async () => {
    const run = await npmRun('load', ['nonsense', '--key', 'k'], {});
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('usage: npm run load -- <read-mix|append|replay|subscriptions>');
  });
});
