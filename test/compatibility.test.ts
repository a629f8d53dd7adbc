import { readFileSync } from 'node:fs';
import { buildSchema, findBreakingChanges, findDangerousChanges, type GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { findOpenApiBreakingChanges, findOpenApiChanges, type ApiChange } from './support/openapi-breaking.ts';

// schema.graphql and openapi.json are the code's contract (test/schema.test.ts and test/rest.test.ts
// fail when they are stale); docs/released/ holds them as the last release shipped them. A change
// between the two that can break a client must be recorded in CHANGELOG.md (its rule is at its top):
// a breaking one under ## [Unreleased] → ### Breaking, a dangerous one anywhere under ## [Unreleased],
// each naming its coordinate exactly, in backticks.

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const SDL = read('schema.graphql');
const RELEASED_SDL = read('docs/released/schema.graphql');
const OPENAPI = JSON.parse(read('openapi.json')) as Record<string, any>;
const RELEASED_OPENAPI = JSON.parse(read('docs/released/openapi.json')) as Record<string, any>;
const CHANGELOG = read('CHANGELOG.md');

/** A change one of the two checkers found, with the coordinate the changelog must name. */
type Change = ApiChange & { type?: string };

/**
 * The coordinate of a graphql-js change, read from its description (the only place graphql-js
 * names it): `Type.field`, `Type.field(arg:)`, `Enum.VALUE`, `Input.field`, `Type` or `@directive`.
 * A description this table does not know is its own coordinate, so nothing goes unchecked.
 */
const GRAPHQL_COORDINATES: Record<string, [RegExp, string]> = {
  TYPE_REMOVED: [/^(?:Standard scalar )?(\w+) was removed.*$/, '$1'],
  TYPE_CHANGED_KIND: [/^(\w+) changed from .*$/, '$1'],
  TYPE_REMOVED_FROM_UNION: [/^\w+ was removed from union type (\w+)\.$/, '$1'],
  TYPE_ADDED_TO_UNION: [/^\w+ was added to union type (\w+)\.$/, '$1'],
  VALUE_REMOVED_FROM_ENUM: [/^(\w+) was removed from enum type (\w+)\.$/, '$2.$1'],
  VALUE_ADDED_TO_ENUM: [/^(\w+) was added to enum type (\w+)\.$/, '$2.$1'],
  REQUIRED_INPUT_FIELD_ADDED: [/^A required field (\w+) on input type (\w+) was added\.$/, '$2.$1'],
  OPTIONAL_INPUT_FIELD_ADDED: [/^An optional field (\w+) on input type (\w+) was added\.$/, '$2.$1'],
  IMPLEMENTED_INTERFACE_REMOVED: [/^(\w+) no longer implements interface \w+\.$/, '$1'],
  IMPLEMENTED_INTERFACE_ADDED: [/^\w+ added to interfaces implemented by (\w+)\.$/, '$1'],
  FIELD_REMOVED: [/^(\w+\.\w+) was removed\.$/, '$1'],
  FIELD_CHANGED_KIND: [/^(\w+\.\w+) changed type from .*$/, '$1'],
  REQUIRED_ARG_ADDED: [/^A required arg (\w+) on (\w+\.\w+) was added\.$/, '$2($1:)'],
  OPTIONAL_ARG_ADDED: [/^An optional arg (\w+) on (\w+\.\w+) was added\.$/, '$2($1:)'],
  ARG_REMOVED: [/^(\w+\.\w+) arg (\w+) was removed\.$/, '$1($2:)'],
  ARG_CHANGED_KIND: [/^(\w+\.\w+) arg (\w+) has changed type .*$/, '$1($2:)'],
  ARG_DEFAULT_VALUE_CHANGE: [/^(\w+\.\w+) arg (\w+) (?:defaultValue was removed|has changed defaultValue).*$/, '$1($2:)'],
  DIRECTIVE_REMOVED: [/^(\w+) was removed\.$/, '@$1'],
  DIRECTIVE_ARG_REMOVED: [/^(\w+) was removed from (\w+)\.$/, '@$2($1:)'],
  REQUIRED_DIRECTIVE_ARG_ADDED: [/^A required arg (\w+) on directive (\w+) was added\.$/, '@$2($1:)'],
  DIRECTIVE_REPEATABLE_REMOVED: [/^Repeatable flag was removed from (\w+)\.$/, '@$1'],
  DIRECTIVE_LOCATION_REMOVED: [/^\w+ was removed from (\w+)\.$/, '@$1'],
};

function graphqlCoordinate({ type, description }: { type: string; description: string }): string {
  const [pattern, coordinate] = GRAPHQL_COORDINATES[type] ?? [];
  return pattern?.test(description) ? description.replace(pattern, coordinate!) : description;
}

/** graphql-js's breaking and dangerous changes from one schema to the next, with their coordinates. */
function graphqlChanges(before: GraphQLSchema, after: GraphQLSchema): Change[] {
  const tag = (level: Change['level']) => (change: { type: string; description: string }) => ({
    level,
    type: change.type,
    coordinate: graphqlCoordinate(change),
    description: change.description,
  });
  return [...findBreakingChanges(before, after).map(tag('breaking')), ...findDangerousChanges(before, after).map(tag('dangerous'))];
}

/**
 * The coordinates CHANGELOG.md records for the next release: the backticked spans under
 * `## [Unreleased]` (HTML comments aside), and those of them under its `### Breaking`.
 */
function unreleased(changelog: string): { breaking: Set<string>; anywhere: Set<string> } {
  const lines = changelog.replace(/<!--[\s\S]*?-->/g, '').split('\n');
  const start = lines.findIndex((line) => /^## \[Unreleased\]\s*$/i.test(line));
  if (start < 0) throw new Error('CHANGELOG.md has no "## [Unreleased]" section');
  const named = { breaking: new Set<string>(), anywhere: new Set<string>() };
  let subsection = '';
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('## ')) break;
    if (line.startsWith('### ')) subsection = line.slice(4).trim().toLowerCase();
    for (const [, span] of line.matchAll(/`([^`]+)`/g)) {
      named.anywhere.add(span!);
      if (subsection === 'breaking') named.breaking.add(span!);
    }
  }
  return named;
}

/** The changes the changelog does not record as the rule wants: breaking ones under Breaking, the others anywhere in Unreleased. */
function unrecorded(changes: Change[], changelog: string): Change[] {
  const named = unreleased(changelog);
  return changes.filter((change) => !(change.level === 'breaking' ? named.breaking : named.anywhere).has(change.coordinate));
}

/** What to tell whoever changed the contract: each change, and the line that records it. */
function howToRecord(file: string, changes: Change[]): string {
  const line = (change: Change) => `  - \`${change.coordinate}\`: ${change.description} <what clients do now>`;
  const breaking = changes.filter((change) => change.level === 'breaking');
  const dangerous = changes.filter((change) => change.level === 'dangerous');
  return [
    `${file} differs from docs/released/${file} in ways CHANGELOG.md does not record. Add to ## [Unreleased]:`,
    ...(breaking.length > 0 ? ['  ### Breaking', ...breaking.map(line)] : []),
    ...(dangerous.length > 0 ? ['  ### Added or ### Changed (any subsection of Unreleased)', ...dangerous.map(line)] : []),
    'If the change was not meant, change the code back instead (and run npm run schema:print).',
  ].join('\n');
}

/** A changelog whose Unreleased section has these subsections, above a released 0.1.0 that records something else. */
function changelogWith(sections: Record<string, string[]>, released: string[] = []): string {
  const unreleasedPart = Object.entries(sections).map(([title, lines]) => `### ${title}\n\n${lines.join('\n')}\n`);
  return ['# Changelog\n', '## [Unreleased]\n', ...unreleasedPart, '## [0.1.0] - 2026-12-03\n', '### Breaking\n', ...released].join('\n');
}
const entry = (coordinate: string) => `- \`${coordinate}\`: what a client does about it.`;

describe('schema.graphql against the released docs/released/schema.graphql', () => {
  it('has no breaking or dangerous change that CHANGELOG.md does not record', () => {
    const changes = graphqlChanges(buildSchema(RELEASED_SDL), buildSchema(SDL));
    const missing = unrecorded(changes, CHANGELOG);
    expect(missing, howToRecord('schema.graphql', missing)).toEqual([]);
  });
});

describe('openapi.json against the released docs/released/openapi.json', () => {
  it('has no breaking or dangerous change that CHANGELOG.md does not record', () => {
    const missing = unrecorded(findOpenApiChanges(RELEASED_OPENAPI, OPENAPI), CHANGELOG);
    expect(missing, howToRecord('openapi.json', missing)).toEqual([]);
  });
});

/** schema.graphql with one definition's block edited; the edit must change it. */
function editSdl(header: string, edit: (block: string) => string): string {
  const start = SDL.indexOf(`\n${header} {\n`);
  expect(start, header).toBeGreaterThan(-1);
  const end = SDL.indexOf('\n}\n', start) + 3;
  const block = SDL.slice(start, end);
  const edited = edit(block);
  expect(edited, header).not.toBe(block);
  return SDL.slice(0, start) + edited + SDL.slice(end);
}

describe('the GraphQL check', () => {
  const current = buildSchema(SDL);
  const breaking = [
    {
      edit: 'a field removed',
      sdl: () => editSdl('type Query', (block) => block.replace('  systemStatus: SystemStatus!\n', '')),
      type: 'FIELD_REMOVED',
      coordinate: 'Query.systemStatus',
    },
    {
      edit: 'an argument made required',
      sdl: () => editSdl('type Query', (block) => block.replace('eventLog(after: String,', 'eventLog(after: String!,')),
      type: 'ARG_CHANGED_KIND',
      coordinate: 'Query.eventLog(after:)',
    },
    {
      edit: 'a required argument added',
      sdl: () =>
        editSdl('type Query', (block) =>
          block.replace('verifyAuditTrail(aggregateId: ID!,', 'verifyAuditTrail(since: DateTime!, aggregateId: ID!,'),
        ),
      type: 'REQUIRED_ARG_ADDED',
      coordinate: 'Query.verifyAuditTrail(since:)',
    },
    {
      edit: "a field's type changed",
      sdl: () => editSdl('type Event', (block) => block.replace('  version: Int!\n', '  version: String!\n')),
      type: 'FIELD_CHANGED_KIND',
      coordinate: 'Event.version',
    },
    {
      edit: 'a field made nullable',
      sdl: () => editSdl('type Event', (block) => block.replace('  type: String!\n', '  type: String\n')),
      type: 'FIELD_CHANGED_KIND',
      coordinate: 'Event.type',
    },
    {
      edit: 'an enum value removed',
      sdl: () => editSdl('enum ExecutionStatus', (block) => block.replace('  TIMED_OUT\n', '')),
      type: 'VALUE_REMOVED_FROM_ENUM',
      coordinate: 'ExecutionStatus.TIMED_OUT',
    },
    {
      edit: 'a required input field added',
      sdl: () =>
        editSdl('input CancelExecutionInput', (block) => block.replace('  reason: String\n', '  reason: String\n  force: Boolean!\n')),
      type: 'REQUIRED_INPUT_FIELD_ADDED',
      coordinate: 'CancelExecutionInput.force',
    },
  ];

  for (const { edit, sdl, type, coordinate } of breaking) {
    describe(edit, () => {
      const changes = () => graphqlChanges(current, buildSchema(sdl()));

      it(`is found breaking, at ${coordinate}`, () => {
        expect(changes().map(({ level, type, coordinate }) => ({ level, type, coordinate }))).toEqual([
          { level: 'breaking', type, coordinate },
        ]);
      });

      it('is refused while the changelog does not list it under Unreleased → Breaking', () => {
        expect(unrecorded(changes(), changelogWith({ Breaking: [], Added: [] }))).toHaveLength(1);
        // Elsewhere than Unreleased → Breaking, or not by its exact coordinate, does not count.
        expect(unrecorded(changes(), changelogWith({ Breaking: [], Changed: [entry(coordinate)] }))).toHaveLength(1);
        expect(unrecorded(changes(), changelogWith({ Breaking: [] }, [entry(coordinate)]))).toHaveLength(1);
        expect(unrecorded(changes(), changelogWith({ Breaking: [`<!-- ${entry(coordinate)} -->`] }))).toHaveLength(1);
        expect(unrecorded(changes(), changelogWith({ Breaking: [entry(coordinate.replace(/\(\w+:\)$|\.\w+$/, ''))] }))).toHaveLength(1);
        expect(howToRecord('schema.graphql', changes())).toContain(`### Breaking\n  - \`${coordinate}\`: `);
      });

      it('is accepted once the changelog lists it under Unreleased → Breaking', () => {
        expect(unrecorded(changes(), changelogWith({ Breaking: [entry(coordinate)], Added: [] }))).toEqual([]);
      });
    });
  }

  const dangerous = [
    {
      edit: 'an enum value added',
      sdl: () => editSdl('enum ExecutionStatus', (block) => block.replace('  PENDING\n', '  PAUSED\n  PENDING\n')),
      type: 'VALUE_ADDED_TO_ENUM',
      coordinate: 'ExecutionStatus.PAUSED',
    },
    {
      edit: 'an optional argument added',
      sdl: () =>
        editSdl('type Query', (block) =>
          block.replace('  systemStatus: SystemStatus!\n', '  systemStatus(verbose: Boolean): SystemStatus!\n'),
        ),
      type: 'OPTIONAL_ARG_ADDED',
      coordinate: 'Query.systemStatus(verbose:)',
    },
    {
      edit: "an argument's default changed",
      sdl: () => editSdl('type Execution', (block) => block.replace('first: Int = 100', 'first: Int = 50')),
      type: 'ARG_DEFAULT_VALUE_CHANGE',
      coordinate: 'Execution.steps(first:)',
    },
  ];

  for (const { edit, sdl, type, coordinate } of dangerous) {
    it(`finds ${edit} dangerous, at ${coordinate}, and wants it named anywhere under Unreleased`, () => {
      const changes = graphqlChanges(current, buildSchema(sdl()));
      expect(changes.map(({ level, type, coordinate }) => ({ level, type, coordinate }))).toEqual([
        { level: 'dangerous', type, coordinate },
      ]);
      expect(unrecorded(changes, changelogWith({ Breaking: [], Added: [] }))).toHaveLength(1);
      expect(unrecorded(changes, changelogWith({ Breaking: [], Added: [entry(coordinate)] }))).toEqual([]);
      expect(unrecorded(changes, changelogWith({ Breaking: [entry(coordinate)] }))).toEqual([]);
    });
  }

  it('finds nothing in a field or a type added, nor between the schema and itself', () => {
    const added = editSdl('type Query', (block) =>
      block.replace('  systemStatus: SystemStatus!\n', '  systemStatus: SystemStatus!\n  uptime: Int!\n'),
    );
    expect(graphqlChanges(current, buildSchema(`${added}\ntype Extra {\n  id: ID!\n}\n`))).toEqual([]);
    expect(graphqlChanges(current, buildSchema(SDL))).toEqual([]);
  });

  it("reads a coordinate from each of graphql-js's descriptions it knows, and keeps one it does not whole", () => {
    expect(graphqlCoordinate({ type: 'TYPE_REMOVED', description: 'Replay was removed.' })).toBe('Replay');
    expect(graphqlCoordinate({ type: 'ARG_REMOVED', description: 'Query.events arg first was removed.' })).toBe('Query.events(first:)');
    expect(graphqlCoordinate({ type: 'DIRECTIVE_ARG_REMOVED', description: 'reason was removed from deprecated.' })).toBe(
      '@deprecated(reason:)',
    );
    expect(graphqlCoordinate({ type: 'SOMETHING_NEW', description: 'Query.me did a new thing.' })).toBe('Query.me did a new thing.');
  });
});

/** A copy of openapi.json with one part edited. */
function editOpenApi(edit: (doc: Record<string, any>) => void): Record<string, any> {
  const doc = structuredClone(OPENAPI);
  edit(doc);
  return doc;
}
const json = (doc: Record<string, any>, path: string, method: string, status = '200') =>
  doc.paths[path][method].responses[status].content['application/json'].schema as Record<string, any>;
const body = (doc: Record<string, any>, path: string, method: string) =>
  doc.paths[path][method].requestBody.content['application/json'].schema as Record<string, any>;
const parameter = (doc: Record<string, any>, path: string, method: string, name: string) =>
  (doc.paths[path][method].parameters as Record<string, any>[]).find((each) => each.name === name)!;

const WORKFLOWS = '/api/agent-builder/workflows';
const WORKFLOW = '/api/agent-builder/workflows/{id}';
const EXECUTIONS = '/api/agent-builder/executions';

describe('the OpenAPI check', () => {
  const breaking: { edit: string; doc: () => Record<string, any>; coordinates: string[]; released?: Record<string, any> }[] = [
    {
      edit: 'a path removed',
      doc: () => editOpenApi((doc) => delete doc.paths['/api/events/audit']),
      coordinates: ['GET /api/events/audit'],
    },
    {
      edit: 'an operation removed',
      doc: () => editOpenApi((doc) => delete doc.paths[WORKFLOW].patch),
      coordinates: [`PATCH ${WORKFLOW}`],
    },
    {
      edit: 'a required query parameter added',
      doc: () =>
        editOpenApi((doc) =>
          doc.paths[WORKFLOWS].get.parameters.push({ name: 'owner', in: 'query', required: true, schema: { type: 'string' } }),
        ),
      coordinates: [`GET ${WORKFLOWS} query.owner`],
    },
    {
      edit: 'an optional parameter made required',
      doc: () => editOpenApi((doc) => (parameter(doc, WORKFLOWS, 'get', 'limit').required = true)),
      coordinates: [`GET ${WORKFLOWS} query.limit`],
    },
    {
      edit: 'a parameter renamed',
      doc: () => editOpenApi((doc) => (parameter(doc, WORKFLOWS, 'get', 'name_contains').name = 'name_like')),
      coordinates: [`GET ${WORKFLOWS} query.name_contains`],
    },
    {
      edit: "a parameter's type changed",
      doc: () => editOpenApi((doc) => (parameter(doc, WORKFLOWS, 'get', 'limit').schema.type = 'string')),
      coordinates: [`GET ${WORKFLOWS} query.limit`],
    },
    {
      edit: "a parameter's bound narrowed",
      doc: () => editOpenApi((doc) => (parameter(doc, WORKFLOWS, 'get', 'after').schema.maxLength = 256)),
      coordinates: [`GET ${WORKFLOWS} query.after`],
    },
    {
      edit: "an enum value removed from a parameter's",
      doc: () => editOpenApi((doc) => parameter(doc, EXECUTIONS, 'get', 'status').schema.enum.pop()),
      coordinates: [`GET ${EXECUTIONS} query.status`],
    },
    {
      edit: 'a header parameter made required',
      doc: () => editOpenApi((doc) => (parameter(doc, WORKFLOWS, 'post', 'Idempotency-Key').required = true)),
      coordinates: [`POST ${WORKFLOWS} header.Idempotency-Key`],
    },
    {
      edit: 'a request body made required',
      released: editOpenApi((doc) => (doc.paths[`${EXECUTIONS}/{id}/cancel`].post.requestBody.required = false)),
      doc: () => OPENAPI,
      coordinates: [`POST ${EXECUTIONS}/{id}/cancel body`],
    },
    {
      edit: 'a required property added to a request body',
      doc: () =>
        editOpenApi((doc) => {
          body(doc, WORKFLOWS, 'post').properties.owner = { type: 'string' };
          body(doc, WORKFLOWS, 'post').required.push('owner');
        }),
      coordinates: [`POST ${WORKFLOWS} body.owner`],
    },
    {
      edit: "a request body property's type changed",
      doc: () => editOpenApi((doc) => (body(doc, WORKFLOWS, 'post').properties.name = { type: 'integer' })),
      coordinates: [`POST ${WORKFLOWS} body.name`],
    },
    {
      edit: 'a request body property removed',
      doc: () => editOpenApi((doc) => delete body(doc, `${EXECUTIONS}/{id}/cancel`, 'post').properties.reason),
      coordinates: [`POST ${EXECUTIONS}/{id}/cancel body.reason`],
    },
    {
      edit: "a response property's type changed",
      doc: () => editOpenApi((doc) => (json(doc, WORKFLOW, 'get').properties.version = { type: 'string' })),
      coordinates: [`GET ${WORKFLOW} 200.version`],
    },
    {
      edit: 'a response property made nullable',
      doc: () => editOpenApi((doc) => (json(doc, WORKFLOW, 'get').properties.name = { anyOf: [{ type: 'string' }, { type: 'null' }] })),
      coordinates: [`GET ${WORKFLOW} 200.name`],
    },
    {
      edit: "a response property removed, in a page's items",
      doc: () =>
        editOpenApi((doc) => {
          const item = json(doc, WORKFLOWS, 'get').properties.items.items;
          delete item.properties.description;
          item.required = item.required.filter((name: string) => name !== 'description');
        }),
      coordinates: [`GET ${WORKFLOWS} 200.items[].description`],
    },
    {
      edit: 'a response status removed',
      doc: () => editOpenApi((doc) => delete doc.paths[WORKFLOW].get.responses['304']),
      coordinates: [`GET ${WORKFLOW} 304`],
    },
    {
      edit: 'a response header removed',
      doc: () => editOpenApi((doc) => delete doc.paths[WORKFLOW].get.responses['200'].headers.ETag),
      coordinates: [`GET ${WORKFLOW} 200 header.ETag`],
    },
    {
      edit: 'a shared component changed, through its $ref',
      doc: () => editOpenApi((doc) => delete doc.components.schemas.Problem.properties.code),
      coordinates: Object.entries<Record<string, any>>(OPENAPI.paths).flatMap(([path, item]) =>
        Object.entries<Record<string, any>>(item).flatMap(([method, op]) =>
          Object.keys(op.responses)
            .filter((status) => op.responses[status].content?.['application/problem+json'])
            .map((status) => `${method.toUpperCase()} ${path} ${status}.code`),
        ),
      ),
    },
  ];

  for (const { edit, doc, coordinates, released = OPENAPI } of breaking) {
    it(`finds ${edit} breaking, at ${coordinates.length > 1 ? `${coordinates.length} coordinates` : coordinates[0]}`, () => {
      const changes = findOpenApiChanges(released, doc());
      expect(changes.map(({ level, coordinate }) => ({ level, coordinate }))).toEqual(
        coordinates.map((coordinate) => ({ level: 'breaking', coordinate })),
      );
      expect(unrecorded(changes, changelogWith({ Breaking: [] }))).toEqual(changes);
      expect(unrecorded(changes, changelogWith({ Breaking: coordinates.map(entry) }))).toEqual([]);
    });
  }

  it('finds an enum value added to an answer dangerous, and wants it named under Unreleased', () => {
    const edited = editOpenApi((doc) => json(doc, WORKFLOW, 'get').properties.status.enum.push('ARCHIVED'));
    const changes = findOpenApiChanges(OPENAPI, edited);
    expect(changes).toEqual([{ level: 'dangerous', coordinate: `GET ${WORKFLOW} 200.status`, description: 'may now answer "ARCHIVED"' }]);
    expect(findOpenApiBreakingChanges(OPENAPI, edited)).toEqual([]);
    expect(unrecorded(changes, changelogWith({ Breaking: [], Changed: [] }))).toHaveLength(1);
    expect(unrecorded(changes, changelogWith({ Changed: [entry(`GET ${WORKFLOW} 200.status`)] }))).toEqual([]);
  });

  const harmless: { edit: string; doc: () => Record<string, any> }[] = [
    {
      edit: 'an optional parameter added',
      doc: () =>
        editOpenApi((doc) =>
          doc.paths[WORKFLOWS].get.parameters.push({ name: 'sort', in: 'query', required: false, schema: { type: 'string' } }),
        ),
    },
    {
      edit: 'a path added',
      doc: () =>
        editOpenApi((doc) => (doc.paths['/api/events/types'] = { get: { responses: { 200: { description: 'The event types.' } } } })),
    },
    {
      edit: 'a response property added',
      doc: () =>
        editOpenApi((doc) => {
          json(doc, WORKFLOW, 'get').properties.etag = { type: 'string' };
          json(doc, WORKFLOW, 'get').required.push('etag');
        }),
    },
    {
      edit: 'an optional request body property added',
      doc: () => editOpenApi((doc) => (body(doc, WORKFLOWS, 'post').properties.tags = { type: 'array', items: { type: 'string' } })),
    },
    {
      edit: 'a request widened (a higher bound, an enum value more, a type more)',
      doc: () =>
        editOpenApi((doc) => {
          parameter(doc, WORKFLOWS, 'get', 'limit').schema.maximum = 500;
          parameter(doc, EXECUTIONS, 'get', 'status').schema.enum.push('PAUSED');
          body(doc, WORKFLOWS, 'post').properties.name.type = ['string', 'null'];
        }),
    },
    {
      edit: 'an answer narrowed (nullable made non-null, an enum value less, a status added)',
      doc: () =>
        editOpenApi((doc) => {
          json(doc, WORKFLOWS, 'get').properties.nextCursor = { type: 'string' };
          json(doc, WORKFLOW, 'get').properties.status.enum.pop();
          doc.paths[WORKFLOW].get.responses['410'] = { description: 'Gone.' };
        }),
    },
    {
      edit: 'a path parameter renamed (the URL is the same)',
      doc: () =>
        editOpenApi((doc) => {
          doc.paths['/api/agent-builder/workflows/{workflowId}'] = doc.paths[WORKFLOW];
          delete doc.paths[WORKFLOW];
          for (const op of Object.values<Record<string, any>>(doc.paths['/api/agent-builder/workflows/{workflowId}'])) {
            op.parameters.find((each: Record<string, any>) => each.name === 'id').name = 'workflowId';
          }
        }),
    },
  ];

  for (const { edit, doc } of harmless) {
    it(`finds nothing in ${edit}`, () => {
      expect(findOpenApiChanges(OPENAPI, doc())).toEqual([]);
    });
  }

  it('finds nothing between the released document and itself', () => {
    expect(findOpenApiChanges(RELEASED_OPENAPI, RELEASED_OPENAPI)).toEqual([]);
  });
});

/** A version's numbers, for ordering (pre-release tags are not used here). */
const numbers = (version: string) => version.split(/[.+-]/).slice(0, 3).map(Number);
const compareVersions = (a: string, b: string) => {
  const [x, y] = [numbers(a), numbers(b)];
  return x.map((part, i) => part - y[i]!).find((difference) => difference !== 0) ?? 0;
};

describe('the released contract', () => {
  it('parses: a GraphQL schema, and an OpenAPI 3 document with a version', () => {
    expect(Object.keys(buildSchema(RELEASED_SDL).getQueryType()!.getFields()).length).toBeGreaterThan(0);
    expect(RELEASED_OPENAPI.openapi).toMatch(/^3\./);
    expect(RELEASED_OPENAPI.info.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Object.keys(RELEASED_OPENAPI.paths).length).toBeGreaterThan(0);
  });

  it("is the latest dated section of CHANGELOG.md, and package.json's version is that release or a later one", () => {
    const releases = [...CHANGELOG.matchAll(/^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$/gm)].map(([, version, date]) => ({
      version: version!,
      date: date!,
    }));
    expect(releases.length, 'CHANGELOG.md has no "## [X.Y.Z] - YYYY-MM-DD" section').toBeGreaterThan(0);
    for (const { date } of releases) expect(new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10)).toBe(date);
    // Newest first, each version above the next.
    for (const [i, release] of releases.slice(1).entries())
      expect(compareVersions(releases[i]!.version, release.version)).toBeGreaterThan(0);
    expect(CHANGELOG.indexOf('## [Unreleased]')).toBeGreaterThan(-1);
    expect(CHANGELOG.indexOf('## [Unreleased]')).toBeLessThan(CHANGELOG.indexOf(`## [${releases[0]!.version}]`));

    const latest = releases[0]!.version;
    expect(RELEASED_OPENAPI.info.version, 'docs/released/ must be the copies of the latest release in CHANGELOG.md').toBe(latest);
    const { version } = JSON.parse(read('package.json')) as { version: string };
    expect(
      compareVersions(version, latest),
      `package.json's version ${version} is older than the released ${latest}`,
    ).toBeGreaterThanOrEqual(0);
  });
});
