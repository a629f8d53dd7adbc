import fc from 'fast-check';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { definition } from './support/definitions.ts';
import { wsClient } from './support/ws.ts';

/** Every code a refusal may carry: the README's error table, and the WebSocket close codes it names. */
const DOCUMENTED = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'VERSION_CONFLICT',
  'BAD_USER_INPUT',
  'QUERY_TOO_COMPLEX',
  'PAYLOAD_TOO_LARGE',
  'LENGTH_REQUIRED',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'UNSUPPORTED_MEDIA_TYPE',
  'TOO_MANY_SUBSCRIPTIONS',
  'OVERLOADED',
  'RATE_LIMITED',
  'ws:1009',
  'ws:4400',
  'ws:4429',
]);

const SEED = Number(process.env.HOSTILE_SEED ?? 20261126);
/** Cases run per category and transport; HOSTILE_RUNS raises it for a longer search. */
const RUNS = Number(process.env.HOSTILE_RUNS ?? 16);

type Transport = 'http' | 'sse' | 'ws';
const TRANSPORTS: Transport[] = ['http', 'sse', 'ws'];
/** One request's result: its HTTP status (none on WebSocket) and its error codes, or 'ok'. */
interface Outcome {
  readonly status?: number;
  readonly codes: readonly string[];
}

let app: TestApp;
let ws: Client;
let workflowId: string;
const counts = new Map<string, { cases: number; outcomes: Map<string, number> }>();

beforeAll(async () => {
  app = await startTestApp({ rateLimitPerSecond: 0, maxDefinitionBytes: 8 * 1024, maxSubscriptionsPerKey: 5 });
  ws = wsClient(app.url, app.keys.editor);
  workflowId = (
    await app.gql('mutation($d: JSON!) { createWorkflow(input: { name: "target", definition: $d }) { id } }', { d: definition() })
  ).data!.createWorkflow.id;
});
afterAll(async () => {
  const lines = [...counts].map(
    ([category, { cases, outcomes }]) => `${category}: ${cases} cases; ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`,
  );
  const total = [...counts.values()].reduce((sum, { cases }) => sum + cases, 0);
  console.log(`hostile input, seed ${SEED}: ${total} cases\n${lines.join('\n')}`);
  await ws.dispose();
  await app.close();
});

const codesOf = (errors: unknown): string[] =>
  Array.isArray(errors) ? errors.map((error: { extensions?: { code?: string } }) => error.extensions?.code ?? 'NO_CODE') : ['ok'];

async function overHttp(body: string, headers: Record<string, string>): Promise<Outcome> {
  const response = await app.post(body, { authorization: `Bearer ${app.keys.editor}`, ...headers });
  const text = await response.text();
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    // The first result of the stream: Yoga sends `event: next` then `event: complete`.
    const data = /^data: (.*)$/m.exec(text)?.[1];
    return { status: response.status, codes: data ? codesOf(JSON.parse(data).errors) : ['ok'] };
  }
  try {
    return { status: response.status, codes: codesOf(JSON.parse(text).errors) };
  } catch {
    return { status: response.status, codes: [`unparsable ${text.slice(0, 40)}`] };
  }
}

async function overWebSocket(query: string, variables: unknown): Promise<Outcome> {
  const iterator = ws.iterate({ query, variables: variables as Record<string, unknown> });
  try {
    const first = await iterator.next();
    return { codes: first.done ? ['ok'] : codesOf(first.value.errors) };
  } catch (error) {
    if (Array.isArray(error)) return { codes: codesOf(error) };
    return { codes: [`ws:${(error as { code?: number }).code}`] };
  } finally {
    await iterator.return?.();
  }
}

function send(transport: Transport, query: string, variables: unknown = {}): Promise<Outcome> {
  if (transport === 'ws') return overWebSocket(query, variables);
  const accept: Record<string, string> = transport === 'sse' ? { accept: 'text/event-stream' } : {};
  return overHttp(JSON.stringify({ query, variables }), { 'content-type': 'application/json', ...accept });
}

/**
 * The rules every case obeys: no 5xx, only documented codes (or a plain answer where the
 * request may read), nothing written (row counts and the last global position), and the
 * server still answers a normal query.
 */
async function check(category: string, request: () => Promise<Outcome>, options: { mayRead?: boolean } = {}): Promise<void> {
  const before = await app.database.snapshot();
  const outcome = await request();
  const entry = counts.get(category) ?? { cases: 0, outcomes: new Map<string, number>() };
  counts.set(category, entry);
  entry.cases += 1;
  for (const code of new Set(outcome.codes)) entry.outcomes.set(code, (entry.outcomes.get(code) ?? 0) + 1);
  expect(outcome.status ?? 200, JSON.stringify(outcome)).toBeLessThan(500);
  for (const code of outcome.codes) {
    if (!(code === 'ok' && options.mayRead)) expect(DOCUMENTED, `${category}: ${JSON.stringify(outcome)}`).toContain(code);
  }
  expect(await app.database.snapshot()).toEqual(before);
}

async function stillAnswers(): Promise<void> {
  const { data, errors } = await app.gql('{ me { id } }');
  expect(errors).toBeUndefined();
  expect(data!.me.id).toBe(app.userIds.editor);
}

/** Runs `property` RUNS times per transport, as one category of the suite. */
async function suite<T>(
  category: string,
  arbitrary: fc.Arbitrary<T>,
  run: (value: T, transport: Transport) => Promise<void>,
  transports = TRANSPORTS,
) {
  for (const transport of transports) {
    await fc.assert(
      fc.asyncProperty(arbitrary, (value) => run(value, transport)),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    await stillAnswers();
  }
  expect(counts.get(category)?.cases).toBe(RUNS * transports.length);
}

const SQL = fc.constantFrom(
  "'; DROP TABLE events; --",
  "' OR '1'='1",
  '" OR 1=1 --',
  "1; UPDATE workflows SET name = 'x'",
  "') UNION SELECT * FROM api_keys --",
  '\\x00',
  '%_%',
  '$$; DELETE FROM streams; $$',
  '${jndi:ldap://x}',
  '../../../../etc/passwd',
);
const hostileText = fc.oneof(
  SQL,
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.tuple(SQL, fc.string()).map(([a, b]) => a + b),
);

describe('hostile input on every transport: no 5xx, a documented code, nothing written', () => {
  it('broken documents', async () => {
    const tokens = [
      '{',
      '}',
      '(',
      ')',
      '[',
      ']',
      'query',
      'mutation',
      'subscription',
      'fragment',
      'on',
      '...',
      '$x',
      ':',
      '!',
      '=',
      '@include',
      '"',
      '#',
      ',',
      'createWorkflow',
      'events',
      'me',
      'id',
      'input',
      '\n',
      ' ',
    ];
    const valid = [
      '{ me { id } }',
      'mutation($d: JSON!) { createWorkflow(input: { name: "n", definition: $d }) { id } }',
      'subscription { events { cursor } }',
    ];
    const broken = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.array(fc.constantFrom(...tokens), { maxLength: 60 }).map((parts) => parts.join(' ')),
      fc.tuple(fc.constantFrom(...valid), fc.nat()).map(([doc, cut]) => doc.slice(0, cut % (doc.length - 1))),
    );
    await suite('broken documents', broken, (query, transport) =>
      check('broken documents', () => send(transport, query, { d: definition() }), { mayRead: true }),
    );
  });

  it('wrong variable types', async () => {
    const operations = [
      'mutation($input: CreateWorkflowInput!) { createWorkflow(input: $input) { id } }',
      'mutation($input: UpdateWorkflowInput!) { updateWorkflow(input: $input) { id } }',
      'mutation($input: ExecuteWorkflowInput!) { executeWorkflow(input: $input) { id } }',
      'query($first: Int, $after: String) { workflows(first: $first, after: $after) { edges { cursor } } }',
      'query($types: [String!]) { eventLog(types: $types, first: 1) { edges { cursor } } }',
    ];
    const wrong = fc.tuple(
      fc.constantFrom(...operations),
      fc.jsonValue({ maxDepth: 4 }),
      fc.constantFrom('input', 'first', 'after', 'types'),
    );
    await suite('wrong variable types', wrong, ([query, value, name], transport) =>
      check(
        'wrong variable types',
        () => send(transport, query, { [name]: value, input: name === 'input' ? value : { id: workflowId, expectedVersion: 'x' } }),
        { mayRead: true },
      ),
    );
  });

  it('huge strings', async () => {
    const huge = fc.tuple(fc.integer({ min: 10_000, max: 1_200_000 }), fc.constantFrom('name', 'nameContains', 'id', 'types'));
    await suite('huge strings', huge, ([size, where], transport) => {
      const text = 'x'.repeat(size);
      const [query, variables] =
        where === 'name'
          ? [
              'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }',
              { n: text, d: definition() },
            ]
          : where === 'nameContains'
            ? ['query($n: String) { workflows(filter: { nameContains: $n }) { edges { cursor } } }', { n: text }]
            : where === 'id'
              ? ['query($n: ID!) { workflow(id: $n) { id } }', { n: text }]
              : ['query($t: [String!]) { eventLog(types: $t) { edges { cursor } } }', { t: [text] }];
      return check('huge strings', () => send(transport, query as string, variables), { mayRead: true });
    });
  });

  it('deep nesting', async () => {
    // Past each limit: 12 levels of selection, 64 of JSON.
    const depth = fc.oneof(
      fc.tuple(fc.integer({ min: 13, max: 400 }), fc.constantFrom('fragments', 'list')),
      fc.tuple(fc.integer({ min: 65, max: 2000 }), fc.constant('json')),
    );
    await suite('deep nesting', depth, ([n, kind], transport) => {
      if (kind === 'fragments') {
        // Inline fragments on one type add no depth: a read, refused only once it is too long.
        const query = `{ ${'... on Query { '.repeat(n)}me { id }${' }'.repeat(n)} }`;
        return check('deep nesting', () => send(transport, query), { mayRead: true });
      }
      if (kind === 'json') {
        let nested: unknown = 'leaf';
        for (let i = 0; i < n; i += 1) nested = { a: nested };
        return check('deep nesting', () =>
          send(transport, 'mutation($d: JSON!) { createWorkflow(input: { name: "deep", definition: $d }) { id } }', {
            d: { ...definition(), metadata: nested },
          }),
        );
      }
      let list: unknown = 'Tick';
      for (let i = 0; i < n; i += 1) list = [list];
      return check('deep nesting', () => send(transport, 'query($t: [String!]) { eventLog(types: $t) { edges { cursor } } }', { t: list }));
    });
  });

  it('alias and fragment bombs', async () => {
    const bomb = fc.tuple(fc.integer({ min: 16, max: 3000 }), fc.constantFrom('aliases', 'fanout', 'cycle', 'directives'));
    await suite('alias and fragment bombs', bomb, ([n, kind], transport) => {
      const levels = Math.min(n, 30);
      const query =
        kind === 'aliases'
          ? `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { id }`).join(' ')} }`
          : kind === 'fanout'
            ? `{ ...F0 } ${Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ${i + 1 < levels ? `...F${i + 1} a${i}: workflows(first: 100) { edges { node { ...W } } }` : 'me { id }'} }`).join(' ')} fragment W on Workflow { id }`
            : kind === 'cycle'
              ? `{ ...A } fragment A on Query { ...B } fragment B on Query { ...A me { id } }`
              : `{ me { id ${'@include(if: true) '.repeat(Math.min(n, 500))} } }`;
      return check('alias and fragment bombs', () => send(transport, query));
    });
  });

  it('invalid cursors and ids', async () => {
    const garbage = fc.oneof(
      hostileText,
      fc.base64String({ maxLength: 60 }),
      fc.uuid(),
      fc.string().map((s) => Buffer.from(s).toString('base64url')),
    );
    const operations = [
      'query($c: String) { eventLog(after: $c) { edges { cursor } } }',
      'query($c: String) { workflows(after: $c) { edges { cursor } } }',
      'query($c: String) { auditLog(after: $c) { edges { cursor } } }',
      'query($c: String) { events(aggregateType: WORKFLOW, aggregateId: "0190a000-0000-7000-8000-000000000000", after: $c) { edges { cursor } } }',
      'subscription($c: String) { events(after: $c) { cursor } }',
      'query($c: ID!) { replay(aggregateType: EXECUTION, aggregateId: $c) { version } }',
      'mutation($c: ID!) { updateWorkflow(input: { id: $c, expectedVersion: 1, name: "x" }) { id } }',
      'mutation($c: ID!) { cancelExecution(input: { id: $c }) { id } }',
      'mutation($c: ID!) { executeWorkflow(input: { workflowId: $c }) { id } }',
      'mutation($c: ID!) { revokeApiKey(keyId: $c) }',
    ];
    await suite('invalid cursors and ids', fc.tuple(fc.constantFrom(...operations), garbage), ([query, c], transport) =>
      check('invalid cursors and ids', () => send(transport, query, { c }), { mayRead: true }),
    );
  });

  it('negative and huge first', async () => {
    const first = fc.oneof(
      fc.integer({ min: -(2 ** 31), max: -1 }),
      fc.integer({ min: 101, max: 2 ** 31 - 1 }),
      fc.double(),
      fc.constantFrom(2 ** 53, -0.5, 1e308),
    );
    const operations = [
      'query($f: Int) { workflows(first: $f) { edges { cursor } } }',
      'query($f: Int) { eventLog(first: $f) { edges { cursor } } }',
      'query($f: Int) { executions(first: $f) { edges { cursor } } }',
      'query($f: Int) { auditLog(first: $f) { edges { cursor } } }',
      'query($f: Int) { workflows(first: 2) { edges { node { latestEvents(first: $f) { id } } } } }',
    ];
    await suite('negative and huge first', fc.tuple(fc.constantFrom(...operations), first), ([query, f], transport) =>
      check('negative and huge first', () => send(transport, query, { f }), { mayRead: Number.isInteger(f) && f >= 0 && f <= 100 }),
    );
  });

  it('injection attempts in filters', async () => {
    const filters = [
      'query($v: String) { workflows(filter: { nameContains: $v }) { edges { cursor } } }',
      'query($v: ID) { workflows(filter: { createdById: $v }) { edges { cursor } } }',
      'query($v: String) { auditLog(eventType: $v) { edges { cursor } } }',
      'query($v: ID) { auditLog(userId: $v) { edges { cursor } } }',
      'query($v: String!) { eventLog(types: [$v]) { edges { cursor } } }',
      'subscription($v: ID) { events(aggregateId: $v) { cursor } }',
    ];
    await suite('injection in filters', fc.tuple(fc.constantFrom(...filters), hostileText), async ([query, v], transport) => {
      await check('injection in filters', () => send(transport, query, { v }), { mayRead: true });
      // The auditLog filters are admin-only; the editor's FORBIDDEN above must not hide a bug.
      if (query.includes('auditLog') && transport === 'http') {
        await check(
          'injection in filters, as admin',
          async () => {
            const response = await app.gql(query, { v }, app.keys.admin);
            return { status: response.status, codes: codesOf(response.errors) };
          },
          { mayRead: true },
        );
      }
    });
  });

  it('injection attempts in expressions', async () => {
    const payload = hostileText.map((text) => text.replaceAll("'", ''));
    const condition = fc.oneof(
      payload.map((text) => `data.x == '${text}`),
      payload.map((text) => `data.x.matches('${text}')`),
      fc.integer({ min: 30, max: 300 }).map((n) => `${'('.repeat(n)}1${')'.repeat(n)} == 1`),
      fc.integer({ min: 1001, max: 5000 }).map((n) => `data.x == '${'a'.repeat(n)}'`),
      fc.constantFrom('[1,2].all(x, [1,2].all(y, true))', 'data.list.map(x, data.list.map(y, y))', 'size(data) ==', '1 +', 'import os'),
    );
    await suite('injection in expressions', condition, (expression, transport) =>
      check('injection in expressions', () =>
        send(transport, 'mutation($d: JSON!) { createWorkflow(input: { name: "hostile", definition: $d }) { id } }', {
          d: {
            startAt: 'Pick',
            nodes: {
              Pick: { type: 'choice', choices: [{ condition: expression, next: 'Done' }], default: 'Done' },
              Done: { type: 'succeed' },
            },
          },
        }),
      ),
    );
  });

  it('oversized definitions', async () => {
    await suite('oversized definitions', fc.integer({ min: 8 * 1024, max: 1_500_000 }), (size, transport) =>
      check('oversized definitions', () =>
        send(transport, 'mutation($d: JSON!) { createWorkflow(input: { name: "big", definition: $d }) { id } }', {
          d: { ...definition(), metadata: { padding: 'p'.repeat(size) } },
        }),
      ),
    );
  });

  it('malformed JSON bodies and wrong content types (HTTP and SSE)', async () => {
    const write = JSON.stringify({
      query: 'mutation($d: JSON!) { createWorkflow(input: { name: "ct", definition: $d }) { id } }',
      variables: { d: definition() },
    });
    const body = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.nat({ max: write.length - 2 }).map((cut) => write.slice(0, cut)),
      fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
      fc.constantFrom(
        '{"query": 1}',
        '{"query": "{ me { id } }", "variables": "x"}',
        '[{"query":"{ me { id } }"}]',
        'null',
        '{"query": null}',
        '{"extensions": {"persistedQuery": 1}}',
      ),
    );
    const wrongType = fc.constantFrom(
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      'application/graphql',
      'application/graphql-response+json',
      'Application/JSON',
      'application/json ; charset=utf-8',
      '',
    );
    // Malformed JSON sent as JSON, or a well-formed write sent as anything else.
    const cases = fc.oneof(fc.tuple(body, fc.constant('application/json')), fc.tuple(fc.constant(write), wrongType));
    await suite(
      'malformed bodies and content types',
      cases,
      ([text, type], transport) =>
        check(
          'malformed bodies and content types',
          () => overHttp(text, { 'content-type': type, ...(transport === 'sse' ? { accept: 'text/event-stream' } : {}) }),
          { mayRead: true },
        ),
      ['http', 'sse'],
    );
  });

  it('malformed WebSocket messages', async () => {
    const message = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
      fc.constantFrom(
        '{"type":"subscribe"}',
        '{"type":"subscribe","id":1,"payload":{}}',
        '{"type":"subscribe","id":"a","payload":{"query":5}}',
        '{"type":"nope"}',
        '{"type":"connection_init"}',
      ),
    );
    await suite(
      'malformed WebSocket messages',
      message,
      (text) =>
        check('malformed WebSocket messages', async () => {
          const socket = new WebSocket(app.url.replace('http', 'ws'), 'graphql-transport-ws');
          await new Promise((resolve) => socket.once('open', resolve));
          socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${app.keys.editor}` } }));
          await new Promise((resolve) => socket.once('message', resolve));
          const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
          socket.send(text);
          // A message the protocol does not know closes the socket with 4400; give it a moment.
          const code = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(0), 300))]);
          socket.close();
          return { codes: [code === 0 ? 'ws:open' : `ws:${code}`] };
        }),
      ['ws'],
    );
  });

  it('floods of subscriptions', async () => {
    await suite(
      'floods of subscriptions',
      fc.integer({ min: 6, max: 40 }),
      (n, transport) =>
        check(
          'floods of subscriptions',
          async () => {
            const query = 'subscription { events(types: ["Never"]) { cursor } }';
            const codes: string[] = [];
            if (transport === 'ws') {
              const open = Array.from({ length: n }, () => ws.iterate({ query }));
              for (const outcome of await Promise.allSettled(open.map((iterator) => iterator.next()))) {
                codes.push(outcome.status === 'fulfilled' ? codesOf(outcome.value.value?.errors)[0]! : codesOf(outcome.reason)[0]!);
              }
              await Promise.all(open.map((iterator) => iterator.return?.()));
            } else {
              const aborts = Array.from({ length: n }, () => new AbortController());
              const responses = await Promise.all(
                aborts.map(async (abort) => {
                  const response = await fetch(app.url, {
                    method: 'POST',
                    signal: abort.signal,
                    headers: {
                      'content-type': 'application/json',
                      accept: 'text/event-stream',
                      authorization: `Bearer ${app.keys.editor}`,
                    },
                    body: JSON.stringify({ query }),
                  });
                  const reader = response.body!.getReader();
                  const first = new TextDecoder().decode((await reader.read()).value);
                  return /"code":"(\w+)"/.exec(first)?.[1] ?? 'ok';
                }),
              );
              codes.push(...responses);
              aborts.forEach((abort) => abort.abort());
            }
            // Five may be open at once (MAX_SUBSCRIPTIONS_PER_KEY here); the rest are refused.
            expect(codes.filter((code) => code === 'ok')).toHaveLength(5);
            await new Promise((resolve) => setTimeout(resolve, 50));
            return { codes };
          },
          { mayRead: true },
        ),
      ['ws', 'sse'],
    );
  });

  it('tried at least 500 cases in all', () => {
    const total = [...counts.values()].reduce((sum, { cases }) => sum + cases, 0);
    expect(total).toBeGreaterThanOrEqual(500);
  });
});
