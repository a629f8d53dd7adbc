import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { definition } from './support/definitions.ts';
import { createWorkflow, ended, execute } from './support/executions.ts';

// Requests generated from openapi.json, well-formed and not, against a running server: no
// answer is a 5xx, every answer's status is one the document lists for its operation, every
// JSON answer matches the schema the document gives it, and a refused request writes nothing.

type Schema = Record<string, any>;
const DOCUMENT = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8')) as Schema;
const RUNS = 30;

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (ajv: Ajv2020) => void)(ajv);
const resolved = (schema: Schema): Schema => (schema.$ref ? DOCUMENT.components.schemas[String(schema.$ref).split('/').pop()!] : schema);

let app: TestApp;
let ids: { workflow: string; execution: string };
beforeAll(async () => {
  app = await startTestApp({ rateLimitPerSecond: 0 });
  const workflow = await createWorkflow(app.gql, definition(), 'fuzzed');
  const execution = await execute(app.gql, workflow.id);
  await ended(app.gql, execution.id);
  ids = { workflow: workflow.id, execution: execution.id };
});
afterAll(() => app.close());

/** An execution a fuzzed request started writes as it runs: it must be done before a refusal is checked for writing nothing. */
async function executionsEnded(): Promise<void> {
  for (let waited = 0; ; waited += 20) {
    const { rows } = await app.database.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM execution_jobs');
    if (rows[0]!.n === 0) return;
    if (waited > 10_000) throw new Error('executions still running after 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A value for a parameter or field: one its schema allows, or anything at all. */
function valueOf(schema: Schema): fc.Arbitrary<unknown> {
  const valid = schema.enum
    ? fc.constantFrom(...schema.enum)
    : schema.type === 'integer'
      ? fc.integer({ min: Math.max(-1000, schema.minimum ?? -1000), max: Math.min(10_000, schema.maximum ?? 10_000) })
      : schema.format === 'date-time'
        ? fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((date) => date.toISOString())
        : schema.type === 'object'
          ? fc.constant(definition())
          : fc.string({ maxLength: 40 });
  return fc.oneof(
    { weight: 3, arbitrary: valid },
    { weight: 1, arbitrary: fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.integer(), fc.constant('')) },
  );
}

const idOf = () =>
  fc.oneof(fc.constant(ids.workflow), fc.constant(ids.execution), fc.uuid(), fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }));

function requestOf(path: string, method: string, operation: Schema) {
  const parameters = (operation.parameters ?? []) as Schema[];
  const pathParams = fc.record(Object.fromEntries(parameters.filter((p) => p.in === 'path').map((p) => [p.name, idOf()])));
  const query = fc.record(Object.fromEntries(parameters.filter((p) => p.in === 'query').map((p) => [p.name, valueOf(p.schema)])), {
    requiredKeys: [],
  });
  const stray = fc.option(fc.tuple(fc.constantFrom('sort', 'page', 'limit'), fc.string({ maxLength: 10 })), { freq: 5 });
  const headers = fc.record(
    {
      'if-match': fc.oneof(fc.constant('"1"'), fc.constant('"2"'), fc.string({ maxLength: 20 })),
      'idempotency-key': fc.string({ maxLength: 300 }),
      'if-none-match': fc.constantFrom('"1"', '"2"'),
    },
    { requiredKeys: [] },
  );
  const bodySchema = operation.requestBody?.content['application/json'].schema as Schema | undefined;
  const body = bodySchema
    ? fc.oneof(
        {
          weight: 3,
          arbitrary: fc
            .record(
              Object.fromEntries(
                Object.entries(bodySchema.properties as Record<string, Schema>).map(([name, field]) => [name, valueOf(field)]),
              ),
              { requiredKeys: [] },
            )
            .map((value) => JSON.stringify(value)),
        },
        { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
        { weight: 1, arbitrary: fc.string({ maxLength: 50 }) },
      )
    : fc.constant(undefined);
  const key = fc.constantFrom<'editor' | 'viewer' | 'admin' | null>('editor', 'editor', 'admin', 'viewer', null);
  return fc.record({ pathParams, query, stray, headers, body, key }).map((drawn) => {
    let url = path.replace(/\{(\w+)\}/g, (_, name: string) =>
      encodeURIComponent(String((drawn.pathParams as Record<string, unknown>)[name])),
    );
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(drawn.query)) search.set(name, String(value));
    if (drawn.stray) search.append(drawn.stray[0], drawn.stray[1]);
    if (search.size > 0) url += `?${search}`;
    const headers: Record<string, string> = { ...(drawn.headers as Record<string, string>) };
    for (const [name, value] of Object.entries(headers)) if (!/^[\t\x20-\x7e]*$/.test(value)) delete headers[name];
    if (drawn.key) headers.authorization = `Bearer ${app.keys[drawn.key]}`;
    if (drawn.body !== undefined) headers['content-type'] = 'application/json';
    return { method: method.toUpperCase(), url, headers, body: drawn.body };
  });
}

const operations = Object.entries(DOCUMENT.paths as Record<string, Record<string, Schema>>)
  .filter(([path]) => path !== '/api/events/stream')
  .flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ path, method, operation })));

describe('REST requests generated from openapi.json', () => {
  for (const { path, method, operation } of operations) {
    it(`${method.toUpperCase()} ${path}: no 5xx, only documented answers, and refusals write nothing`, async () => {
      await fc.assert(
        fc.asyncProperty(requestOf(path, method, operation), async (request) => {
          await executionsEnded();
          const before = await app.database.snapshot();
          const response = await fetch(new URL(request.url, app.url), {
            method: request.method,
            headers: request.headers,
            body: request.body,
          });
          const text = await response.text();
          const where = `${request.method} ${request.url} -> ${response.status} ${text.slice(0, 300)}`;
          expect(response.status, where).toBeLessThan(500);
          const documented = operation.responses[String(response.status)] as Schema | undefined;
          expect(documented, where).toBeDefined();
          const type = response.headers.get('content-type') ?? '';
          const content = documented!.content?.[type.split(';')[0]!];
          if (response.status !== 304) {
            expect(content, where).toBeDefined();
            if (/json/.test(type)) {
              const validate = ajv.compile(resolved(content.schema));
              expect(validate(JSON.parse(text)) ? [] : validate.errors, where).toEqual([]);
            }
          }
          if (response.status >= 400) expect(await app.database.snapshot(), where).toEqual(before);
        }),
        { numRuns: RUNS },
      );
    }, 60_000);
  }
});
