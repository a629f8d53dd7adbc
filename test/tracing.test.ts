import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { VERSION } from '../src/version.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { definition } from './support/definitions.ts';
import { createWorkflow, ended, execute } from './support/executions.ts';

/** A span as OTLP/HTTP JSON carries it, with its service's name. */
interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, unknown>;
  readonly status?: { code?: number; message?: string };
  readonly links?: { traceId: string; spanId: string }[];
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly service: Record<string, unknown>;
}

type Value = { stringValue?: string; intValue?: string | number; boolValue?: boolean; arrayValue?: { values: Value[] } };
const valueOf = (value: Value): unknown =>
  value.arrayValue
    ? value.arrayValue.values.map(valueOf)
    : (value.stringValue ?? value.boolValue ?? (value.intValue === undefined ? undefined : Number(value.intValue)));
const attributesOf = (list: { key: string; value: Value }[] = []) =>
  Object.fromEntries(list.map(({ key, value }) => [key, valueOf(value)]));

/** An OTLP/HTTP collector in the test's process: it keeps every span POSTed to /v1/traces. */
async function startCollector() {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url !== '/v1/traces') return response.writeHead(404).end();
      contentTypes.add(String(request.headers['content-type']));
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: {
          resource: { attributes: [] };
          scopeSpans: { spans: (Omit<ReceivedSpan, 'attributes' | 'service'> & { attributes: [] })[] }[];
        }[];
      };
      for (const { resource, scopeSpans } of body.resourceSpans)
        for (const scope of scopeSpans)
          for (const span of scope.spans)
            spans.push({ ...span, attributes: attributesOf(span.attributes), service: attributesOf(resource.attributes) });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    spans,
    contentTypes,
    /** The spans of a trace, once `done` holds for them (the exporter sends in batches). */
    async trace(traceId: string, done: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
      for (let waited = 0; ; waited += 50) {
        const of = spans.filter((span) => span.traceId === traceId);
        if (done(of)) return of;
        if (waited > 10_000) throw new Error(`trace ${traceId}: ${JSON.stringify(of.map((span) => span.name))}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

let collector: Awaited<ReturnType<typeof startCollector>>;
let app: TestApp;
const lines: string[] = [];
const write = process.stderr.write.bind(process.stderr);

beforeAll(async () => {
  collector = await startCollector();
  const tracing = loadConfig({
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.endpoint,
    OTEL_SERVICE_NAME: 'flowledger-under-test',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
    OTEL_BSP_SCHEDULE_DELAY: '50',
  }).tracing;
  // http.request may call this process's own collector: the step that fails against it is what the secrets test wants.
  app = await startTestApp({ tracing, logRequests: true, httpAllowedHosts: ['127.0.0.1'] });
  // The JSON log lines of this process, kept to find a request's.
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    lines.push(String(chunk));
    return write(chunk, ...rest);
  }) as typeof process.stderr.write;
});

afterAll(async () => {
  process.stderr.write = write;
  await app?.close();
  await collector?.close();
});

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(app.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${app.keys.editor}`, ...headers },
    body: JSON.stringify(body),
  });
const CREATE = 'mutation($d: JSON!) { createWorkflow(input: { name: "traced", definition: $d }) { id version } }';

describe('OpenTelemetry traces', () => {
  it("makes one trace of a request: the caller's span, then HTTP, GraphQL and each SQL statement, and names it in a header and the log", async () => {
    const callerTrace = hex(16);
    const callerSpan = hex(8);
    const response = await post({ query: CREATE, variables: { d: definition() } }, { traceparent: `00-${callerTrace}-${callerSpan}-01` });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-trace-id')).toBe(callerTrace);
    const requestId = response.headers.get('x-request-id');

    const spans = await collector.trace(
      callerTrace,
      (of) => of.some((span) => span.name === 'POST') && of.some((span) => span.name.startsWith('SQL')),
    );
    const http = spans.find((span) => span.name === 'POST')!;
    expect(http.parentSpanId).toBe(callerSpan);
    expect(http.kind).toBe(2); // SERVER
    expect(http.attributes).toMatchObject({ 'http.request.method': 'POST', 'url.path': '/graphql', 'http.response.status_code': 200 });
    const graphql = spans.find((span) => span.name === 'GraphQL Mutation.createWorkflow')!;
    expect(graphql.parentSpanId).toBe(http.spanId);
    const statements = spans.filter((span) => span.name.startsWith('SQL'));
    // The append is the operation's; the key's lookup, before it runs, the request's. Their text has no values.
    const append = statements.find((span) => /insert into events/i.test(String(span.attributes['db.query.text'])))!;
    expect(append.parentSpanId).toBe(graphql.spanId);
    for (const statement of statements) {
      expect([http.spanId, graphql.spanId]).toContain(statement.parentSpanId);
      expect(statement.kind).toBe(3); // CLIENT
      expect(statement.attributes['db.system.name']).toBe('postgresql');
      expect(String(statement.attributes['db.query.text'])).not.toContain('traced');
    }
    expect(http.service).toMatchObject({
      'service.name': 'flowledger-under-test',
      'service.version': VERSION,
      'deployment.environment.name': 'test',
    });
    expect([...collector.contentTypes]).toEqual(['application/json']);

    const line = lines
      .filter((text) => text.startsWith('{'))
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .find((entry) => entry.requestId === requestId);
    expect(line).toMatchObject({ message: 'request', traceId: callerTrace });
    expect(spans.map((span) => span.spanId)).toContain(line!.spanId);
  });

  it('starts a trace for a request that brings none, and marks an operation that answered errors with their codes', async () => {
    const created = await post({ query: CREATE, variables: { d: definition() } });
    const { data } = (await created.json()) as { data: { createWorkflow: { id: string } } };
    const response = await post({
      query: 'mutation($id: ID!) { updateWorkflow(input: { id: $id, expectedVersion: 7, name: "stale" }) { version } }',
      variables: { id: data.createWorkflow.id },
    });
    const traceId = response.headers.get('x-trace-id')!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).not.toBe(created.headers.get('x-trace-id'));
    const trace = await collector.trace(traceId, (of) =>
      ['GraphQL Mutation.updateWorkflow', 'POST'].every((name) => of.some((span) => span.name === name)),
    );
    const graphql = trace.find((span) => span.name === 'GraphQL Mutation.updateWorkflow')!;
    // The code, never the message: a message may quote what the caller sent.
    expect(graphql.status).toEqual({ code: 2, message: 'VERSION_CONFLICT' }); // ERROR
    expect(graphql.attributes['flowledger.error.codes']).toEqual(['VERSION_CONFLICT']);
    expect(trace.find((span) => span.name === 'POST')!.parentSpanId).toBeFalsy();
  });

  it('adds nothing to a trace once its request has ended, though the engine it woke goes on', async () => {
    const workflow = await createWorkflow(app.gql, definition());
    const response = await post({
      query: 'mutation($id: ID!) { executeWorkflow(input: { workflowId: $id }) { id } }',
      variables: { id: workflow.id },
    });
    const traceId = response.headers.get('x-trace-id')!;
    const { data } = (await response.json()) as { data: { executeWorkflow: { id: string } } };
    await ended(app.gql, data.executeWorkflow.id);
    const http = (await collector.trace(traceId, (of) => of.some((span) => span.name === 'POST'))).find((span) => span.name === 'POST')!;
    // Later batches would bring what was added late.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const span of spans(traceId)) expect(BigInt(span.endTimeUnixNano), span.name).toBeLessThanOrEqual(BigInt(http.endTimeUnixNano));
    const run = await waitFor(() =>
      collector.spans.find(
        (span) => span.name === 'execution run' && span.attributes['flowledger.execution.id'] === data.executeWorkflow.id,
      ),
    );
    expect(run.traceId).not.toBe(traceId);
  });

  it('exports no secret of a failed step: a span says what kind of error, not its message', async () => {
    const secretUrl = `http://user:hunter2@127.0.0.1:${new URL(collector.endpoint).port}/hook?api_key=SECRET123`;
    const workflow = await createWorkflow(app.gql, {
      startAt: 'Call',
      nodes: { Call: { type: 'task', action: 'http.request', input: { url: secretUrl }, end: true } },
    });
    const started = await execute(app.gql, workflow.id);
    expect((await ended(app.gql, started.id)).status).toBe('FAILED');
    const run = await waitFor(() =>
      collector.spans.find((span) => span.name === 'execution run' && span.attributes['flowledger.execution.id'] === started.id),
    );
    const trace = await collector.trace(run.traceId, (of) => of.some((span) => span.name === 'step http.request'));
    const step = trace.find((span) => span.name === 'step http.request')!;
    expect(step.status?.code).toBe(2);
    expect(step.status?.message).toMatch(/^\w+$/);
    const exported = JSON.stringify(collector.spans);
    expect(exported).not.toContain('hunter2');
    expect(exported).not.toContain('SECRET123');
  });

  it('traces a REST call as one trace too: its HTTP span, then the GraphQL operation it is answered by', async () => {
    const callerTrace = hex(16);
    const response = await fetch(new URL('/api/agent-builder/workflows?limit=5', app.url), {
      headers: { authorization: `Bearer ${app.keys.viewer}`, traceparent: `00-${callerTrace}-${hex(8)}-01` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-trace-id')).toBe(callerTrace);
    const trace = await collector.trace(callerTrace, (of) =>
      ['GET', 'GraphQL Query.workflows'].every((name) => of.some((span) => span.name === name)),
    );
    const http = trace.find((span) => span.name === 'GET')!;
    expect(http.attributes['url.path']).toBe('/api/agent-builder/workflows');
    expect(trace.find((span) => span.name === 'GraphQL Query.workflows')!.parentSpanId).toBe(http.spanId);
  });

  it('lets browsers on ALLOWED_ORIGINS send a traceparent and read x-trace-id', async () => {
    const origin = 'https://app.example';
    const browserApp = await startTestApp({ tracing: app.services.config.tracing, allowedOrigins: [origin] });
    try {
      const preflight = await fetch(browserApp.url, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type, traceparent',
        },
      });
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/traceparent/);
      const response = await fetch(browserApp.url, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json', authorization: `Bearer ${browserApp.keys.viewer}` },
        body: JSON.stringify({ query: '{ me { role } }' }),
      });
      expect(response.headers.get('access-control-expose-headers')).toMatch(/x-trace-id/);
      expect(response.headers.get('x-trace-id')).toMatch(/^[0-9a-f]{32}$/);
    } finally {
      await browserApp.close();
    }
  });

  it('leaves probes and scrapes out of traces', async () => {
    const origin = new URL(app.url).origin;
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const response = await fetch(`${origin}${path}`, { headers: { traceparent: `00-${hex(16)}-${hex(8)}-01` } });
      expect(response.status, path).toBe(200);
      expect(response.headers.get('x-trace-id'), path).toBeNull();
    }
  });

  it('traces an execution run as a trace of its own, its steps as spans of it', async () => {
    const workflow = await createWorkflow(app.gql, {
      startAt: 'Echo',
      nodes: { Echo: { type: 'task', action: 'transform', input: { n: 1 }, next: 'Done' }, Done: { type: 'succeed' } },
    });
    const started = await execute(app.gql, workflow.id);
    expect((await ended(app.gql, started.id)).status).toBe('SUCCEEDED');
    const run = await waitFor(() =>
      collector.spans.find((span) => span.name === 'execution run' && span.attributes['flowledger.execution.id'] === started.id),
    );
    expect(run.parentSpanId).toBeFalsy();
    const trace = await collector.trace(run.traceId, (of) => of.some((span) => span.name === 'step transform'));
    const step = trace.find((span) => span.name === 'step transform')!;
    expect(step.parentSpanId).toBe(run.spanId);
    expect(step.attributes['flowledger.execution.id']).toBe(started.id);
    // What the run writes is part of its trace too.
    expect(trace.filter((span) => span.name.startsWith('SQL') && span.parentSpanId === run.spanId).length).toBeGreaterThan(0);
  });
});

const spans = (traceId: string) => collector.spans.filter((span) => span.traceId === traceId);

async function waitFor<T>(find: () => T | undefined): Promise<T> {
  for (let waited = 0; ; waited += 50) {
    const found = find();
    if (found !== undefined) return found;
    if (waited > 10_000) throw new Error('timed out waiting for a span');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A collector named: tracing on. */
const named = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

describe('tracing settings', () => {
  it('is off unless a collector is named, and takes the standard OTEL_* variables', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toMatchObject({
      endpoint: 'http://collector:4318/v1/traces',
      serviceName: 'flowledger',
      sampler: 'parentbased_always_on',
      maxQueuedSpans: 2048,
      maxSpansPerBatch: 512,
    });
    expect(loadConfig({ ...named, OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500' }).tracing).toMatchObject({
      maxQueuedSpans: 100,
      maxSpansPerBatch: 100,
    });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing?.endpoint).toBe('http://localhost:4318/v1/traces');
    expect(loadConfig({ ...named, OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
    expect(loadConfig({ ...named, OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeUndefined();
    expect(loadConfig({ ...named, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).tracing).toMatchObject({
      sampler: 'traceidratio',
      samplerRatio: 0.25,
    });
    expect(loadConfig({ ...named, OTEL_RESOURCE_ATTRIBUTES: 'service.name=from%20attributes' }).tracing?.serviceName).toBe(
      'from attributes',
    );
  });

  it('refuses what it cannot do at start, naming the variable', () => {
    expect(() => loadConfig({ ...named, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/only OTLP over http\/json/);
    expect(() => loadConfig({ ...named, OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER must be otlp or none/);
    expect(() => loadConfig({ ...named, OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER must be one of/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' })).toThrow(/must be an http\(s\) URL/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://collector/v1/traces' })).toThrow(/must be an http\(s\) URL/);
    for (const arg of [' ', '0x1', '1.5', '-0.1'])
      expect(() => loadConfig({ ...named, OTEL_TRACES_SAMPLER_ARG: arg }), arg).toThrow(
        /OTEL_TRACES_SAMPLER_ARG must be a number between 0 and 1/,
      );
    expect(() => loadConfig({ ...named, OTEL_RESOURCE_ATTRIBUTES: 'team=a%' })).toThrow(/OTEL_RESOURCE_ATTRIBUTES must be key=value pairs/);
    expect(() => loadConfig({ ...named, TRACE_CALLER_CONTEXT: 'trust' })).toThrow(/TRACE_CALLER_CONTEXT must be continue or link/);
  });

  it("with TRACE_CALLER_CONTEXT=link, links to a caller's trace from one of its own, sampled by its own sampler", async () => {
    const settings = {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      TRACE_CALLER_CONTEXT: 'link',
    };
    const never = await startTestApp({
      tracing: loadConfig({ ...settings, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }).tracing,
    });
    const always = await startTestApp({ tracing: loadConfig(settings).tracing });
    try {
      const ask = (target: TestApp, traceparent: string) =>
        fetch(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${target.keys.viewer}`, traceparent },
          body: JSON.stringify({ query: '{ me { role } }' }),
        });
      // A caller that asks to be sampled is not, at a ratio of 0, whatever its trace id.
      const forcedTrace = `${'0'.repeat(31)}1`;
      expect((await ask(never, `00-${forcedTrace}-${hex(8)}-01`)).headers.get('x-trace-id')).toBeNull();
      const callerTrace = hex(16);
      const callerSpan = hex(8);
      const traceId = (await ask(always, `00-${callerTrace}-${callerSpan}-00`)).headers.get('x-trace-id')!;
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(traceId).not.toBe(callerTrace);
      const http = (await collector.trace(traceId, (of) => of.some((span) => span.name === 'POST'))).find((span) => span.name === 'POST')!;
      expect(http.parentSpanId).toBeFalsy();
      expect(http.links).toEqual([expect.objectContaining({ traceId: callerTrace, spanId: callerSpan })]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(spans(forcedTrace)).toEqual([]);
    } finally {
      await Promise.all([never.close(), always.close()]);
    }
  });

  it('sends no trace header and keeps no trace ids in the log when off', async () => {
    const plain = await startTestApp();
    try {
      const response = await fetch(plain.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${plain.keys.viewer}`,
          traceparent: `00-${hex(16)}-${hex(8)}-01`,
        },
        body: JSON.stringify({ query: '{ me { role } }' }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-trace-id')).toBeNull();
      expect(plain.services.tracing).toBeNull();
    } finally {
      await plain.close();
    }
  });
});
