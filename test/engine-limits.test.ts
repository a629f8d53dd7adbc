import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { startHttpTarget, type HttpTarget } from './support/http-target.ts';
import { createWorkflow, ended, execute, run } from './support/executions.ts';
import { GET_ITEM, mapOf } from './support/definitions.ts';

let app: TestApp;
let target: HttpTarget;
beforeAll(async () => {
  app = await startTestApp({
    executionPollIntervalMs: 50,
    breakerFailures: 3,
    breakerHalfOpenMs: 400,
    conditionTimeoutMs: 100,
    maxExecutionInputBytes: 8 * 1024 * 1024,
    maxBodyBytes: 16 * 1024 * 1024,
    maxStepsInFlight: 2,
    maxRunningExecutions: 2,
    httpAllowedHosts: ['127.0.0.1'],
  });
  target = await startHttpTarget();
});
afterAll(async () => {
  await app.close();
  await target.close();
});

const gql: TestApp['gql'] = (...args) => app.gql(...args);
const breakers = async () =>
  (await app.gql('{ systemStatus { engine { circuitBreakers { host state } } } }', {}, app.keys.admin)).data!.systemStatus.engine
    .circuitBreakers;
const breakerOf = async (url: string) => (await breakers()).find((breaker: { host: string }) => breaker.host === new URL(url).host)?.state;

describe('the circuit breaker of a host', () => {
  it('opens after repeated failures, refuses calls while open, half-opens after its recovery time, closes on success', async () => {
    const host = await startHttpTarget();
    try {
      let down = true;
      host.reply(() => (down ? { status: 500 } : { delayMs: 300, body: { up: true } }));
      const workflow = await createWorkflow(gql, {
        startAt: 'Call',
        nodes: {
          Call: {
            type: 'task',
            action: 'http.request',
            input: { url: `${host.url}/svc` },
            resultPath: '$.r',
            catch: [{ errors: ['*'], resultPath: '$.error', next: 'Done' }],
            next: 'Done',
          },
          Done: { type: 'succeed' },
        },
      });
      const once = async () => (await ended(gql, (await execute(gql, workflow.id)).id)).output;
      for (let i = 0; i < 3; i += 1) expect((await once()).error.name).toBe('HttpError');
      expect(await breakerOf(host.url)).toBe('OPEN');
      expect((await once()).error.name).toBe('CircuitOpen');
      expect(host.calls('/svc')).toBe(3);

      // Another workspace calling the same host has a breaker of its own, and sees none of this one.
      const other = await app.createWorkspace('breakers elsewhere');
      const asOther: TestApp['gql'] = (query, variables, key = other.keys.editor) => app.gql(query, variables, key);
      const theirs = await createWorkflow(asOther, {
        startAt: 'Call',
        nodes: { Call: { type: 'task', action: 'http.request', input: { url: `${host.url}/svc` }, end: true } },
      });
      expect((await ended(asOther, (await execute(asOther, theirs.id)).id)).error.name).toBe('HttpError');
      expect(host.calls('/svc')).toBe(4);
      const status = await app.gql('{ systemStatus { engine { circuitBreakers { host state } } } }', {}, other.keys.admin);
      expect(status.data!.systemStatus.engine.circuitBreakers).toEqual([{ host: new URL(host.url).host, state: 'CLOSED' }]);

      await new Promise((resolve) => setTimeout(resolve, 450));
      down = false;
      const probe = await execute(gql, workflow.id);
      const states = new Set<string>();
      while (!states.has('HALF_OPEN')) states.add(await breakerOf(host.url));
      const recovered = await ended(gql, probe.id);
      expect(recovered.output.r).toMatchObject({ status: 200, body: { up: true } });
      expect(await breakerOf(host.url)).toBe('CLOSED');
      expect(host.calls('/svc')).toBe(5);
    } finally {
      await host.close();
    }
  });
});

describe('outbound hosts', () => {
  it('refuses loopback, private, link-local and metadata addresses in every notation, after DNS too, unless named', async () => {
    const open = await startTestApp({ executionPollIntervalMs: 50 });
    const victim = await startHttpTarget();
    try {
      const port = new URL(victim.url).port;
      const call = (url: string) =>
        run((...args) => open.gql(...args), {
          startAt: 'Get',
          nodes: { Get: { type: 'task', action: 'http.request', input: { url }, end: true } },
        });
      const own = new URL(open.url);
      for (const url of [
        `http://127.0.0.1:${port}/a`,
        `http://[::ffff:127.0.0.1]:${port}/b`,
        `http://2130706433:${port}/c`,
        `http://0x7f.1:${port}/d`,
        `http://017700000001:${port}/e`,
        `http://localhost:${port}/f`,
        `http://[::1]:${port}/g`,
        `http://[::ffff:7f00:1]:${port}/h`,
        `http://127.0.0.1:${own.port}/metrics`,
        'http://169.254.169.254/latest/meta-data/',
        'http://[fd00:ec2::254]/latest/meta-data/',
        'http://10.0.0.1/',
        'http://192.168.1.1/',
        'http://0.0.0.0/',
      ]) {
        const execution = await call(url);
        expect(execution, url).toMatchObject({ status: 'FAILED', error: { name: 'HostNotAllowed' } });
        expect(JSON.stringify(execution)).not.toMatch(/flowledger_/);
      }
      for (const path of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) expect(victim.calls(`/${path}`), path).toBe(0);
    } finally {
      await open.close();
      await victim.close();
    }
  });

  it('does not follow a redirect from a host it may call to one it may not', async () => {
    const secret = await startHttpTarget();
    const redirector = await startHttpTarget();
    redirector.reply(() => ({ status: 302, headers: { location: `${secret.url}/secret` } }));
    const fenced = await startTestApp({ executionPollIntervalMs: 50, httpAllowedHosts: [new URL(redirector.url).host] });
    try {
      const execution = await run((...args) => fenced.gql(...args), {
        startAt: 'Get',
        nodes: { Get: { type: 'task', action: 'http.request', input: { url: `${redirector.url}/go` }, resultPath: '$.got', end: true } },
      });
      expect(execution).toMatchObject({ status: 'SUCCEEDED', output: { got: { status: 302 } } });
      expect(secret.calls('/secret')).toBe(0);
    } finally {
      await fenced.close();
      await redirector.close();
      await secret.close();
    }
  });

  it('calls only hosts in HTTP_ALLOWED_HOSTS when it is set', async () => {
    const host = await startHttpTarget();
    const fenced = await startTestApp({ executionPollIntervalMs: 50, httpAllowedHosts: ['api.example.test', new URL(host.url).host] });
    try {
      const call = (url: string) =>
        run((...args) => fenced.gql(...args), {
          startAt: 'Get',
          nodes: { Get: { type: 'task', action: 'http.request', input: { url }, end: true } },
        });
      expect(await call(`${host.url}/allowed`)).toMatchObject({ status: 'SUCCEEDED' });
      const other = `http://localhost:${new URL(host.url).port}/refused`;
      expect(await call(other)).toMatchObject({ status: 'FAILED', error: { name: 'HostNotAllowed' } });
      expect(host.calls('/allowed')).toBe(1);
      expect(host.calls('/refused')).toBe(0);
    } finally {
      await fenced.close();
      await host.close();
    }
  });
});

describe('calls the run stops itself', () => {
  it('do not count against the host: one 404 in a map aborts its siblings, and the breaker stays closed', async () => {
    // Its own server: a breaker that opens after 2 failures, and no bound on steps in flight.
    const other = await startTestApp({ executionPollIntervalMs: 50, breakerFailures: 2, httpAllowedHosts: ['127.0.0.1'] });
    const host = await startHttpTarget();
    const gql: TestApp['gql'] = (...args) => other.gql(...args);
    try {
      host.reply((path) => (path === '/missing' ? { status: 404, delayMs: 200 } : { delayMs: 2000 }));
      const execution = await run(gql, mapOf(GET_ITEM, { itemsPath: '$.urls' }), {
        urls: [`${host.url}/missing`, ...Array.from({ length: 6 }, (_, i) => `${host.url}/slow/${i}`)],
      });
      expect(execution).toMatchObject({ status: 'FAILED', error: { name: 'HttpError' } });
      expect(host.maxInFlight).toBe(7);
      expect(other.services.engine!.stats().breakers).toEqual([{ host: new URL(host.url).host, state: 'CLOSED' }]);
    } finally {
      await host.close();
      await other.close();
    }
  });
});

describe('bounds', () => {
  it('stops a condition that runs past its time limit, and evaluates the next one normally', async () => {
    // About 400 ms of work on this machine when nothing stops it: four times the limit.
    const definition = {
      startAt: 'Check',
      nodes: {
        Check: {
          type: 'choice',
          cases: [
            {
              condition: 'data.xs.all(x, (x + x + x + x + x + x + x + x).size() > 0 && (x + x + x + x + x + x + x + x).size() > 0)',
              next: 'Done',
            },
          ],
          default: 'Done',
        },
        Done: { type: 'succeed', outputPath: '$.n' },
      },
    };
    const slow = await run(gql, definition, { xs: Array.from({ length: 200_000 }, (_, i) => `item${i}`), n: 1 });
    expect(slow).toMatchObject({ status: 'FAILED', error: { name: 'ConditionTimeout' } });
    const fast = await run(gql, definition, { xs: ['a'], n: 2 });
    expect(fast).toMatchObject({ status: 'SUCCEEDED', output: 2 });
  });

  it('runs at most maxStepsInFlight actions at once in a process, whatever a map allows', async () => {
    target.reply(() => ({ delayMs: 40 }));
    const execution = await run(gql, mapOf(GET_ITEM, { itemsPath: '$.urls', maxConcurrency: 6 }), {
      urls: Array.from({ length: 6 }, (_, i) => `${target.url}/steps/${i}`),
    });
    expect(execution.status).toBe('SUCCEEDED');
    expect(target.maxInFlight).toBe(2);
  });

  it('runs at most maxRunningExecutions at once in a process; the rest wait their turn', async () => {
    const workflow = await createWorkflow(gql, {
      startAt: 'Nap',
      nodes: { Nap: { type: 'task', action: 'sleep', input: { ms: 200 }, end: true } },
    });
    const started = await Promise.all(Array.from({ length: 5 }, () => execute(gql, workflow.id)));
    let most = 0;
    const done = Promise.all(started.map((execution) => ended(gql, execution.id)));
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished) {
      most = Math.max(most, app.services.engine!.stats().active);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect((await done).map((execution) => execution.status)).toEqual(Array(5).fill('SUCCEEDED'));
    expect(most).toBe(2);
  });
});
