import { describe, expect, it } from 'vitest';
import type { AppError } from '../errors.ts';
import { validateDefinition, type DefinitionProblem } from './definition.ts';

const RULES = { maxBytes: 64 * 1024, actions: new Set(['http.request', 'transform', 'sleep', 'log', 'fail']), maxSteps: 10_000 };

/** Uses every node type: a retried task with a catch, a bounded loop, map, parallel, wait. */
const valid = () => ({
  startAt: 'Fetch',
  metadata: { layout: { Fetch: [0, 0] } },
  nodes: {
    Fetch: {
      type: 'task',
      action: 'http.request',
      input: { url: '$.request.url', method: 'GET', headers: { accept: 'application/json', trace: '$.trace' } },
      resultPath: '$.response',
      timeoutMs: 5000,
      retry: [{ errors: ['Timeout', 'HttpError'], maxAttempts: 3, intervalMs: 100, backoffRate: 2, maxDelayMs: 1000, jitter: true }],
      catch: [{ errors: ['*'], resultPath: '$.error', next: 'Failed' }],
      next: 'Check',
    },
    Check: {
      type: 'choice',
      maxVisits: 5,
      cases: [
        { condition: 'data.response.status == 200', next: 'Each' },
        { condition: 'data.response.status >= 500 && data.attempts < 3', next: 'Pause' },
      ],
      default: 'Failed',
    },
    Pause: { type: 'wait', ms: 1000, next: 'Fetch' },
    Each: {
      type: 'map',
      itemsPath: '$.response.body.items',
      maxConcurrency: 3,
      resultPath: '$.results',
      iterator: { startAt: 'Shape', nodes: { Shape: { type: 'task', action: 'transform', input: { id: '$.id' }, end: true } } },
      next: 'Both',
    },
    Both: {
      type: 'parallel',
      maxConcurrency: 2,
      branches: [
        { startAt: 'Log', nodes: { Log: { type: 'task', action: 'log', input: { message: 'done' }, end: true } } },
        { startAt: 'Nap', nodes: { Nap: { type: 'task', action: 'sleep', input: { ms: 10 }, end: true } } },
      ],
      next: 'Done',
    },
    Done: { type: 'succeed', outputPath: '$.results' },
    Failed: { type: 'fail', error: 'FetchFailed', cause: 'the service did not answer' },
  },
});

function problemsOf(definition: unknown): DefinitionProblem[] {
  try {
    validateDefinition(definition, RULES);
  } catch (error) {
    expect((error as AppError).code).toBe('BAD_USER_INPUT');
    return ((error as AppError).details.problems as DefinitionProblem[]) ?? [{ field: 'definition', message: (error as AppError).message }];
  }
  throw new Error('expected the definition to be refused');
}

/** A copy of the valid definition with one node replaced (or removed when undefined). */
function withNode(name: string, node: unknown) {
  const definition = valid() as { nodes: Record<string, unknown> };
  if (node === undefined) delete definition.nodes[name];
  else definition.nodes[name] = node;
  return definition;
}

/** A refusal case: the valid definition with Check's one condition replaced, refused at that condition. */
const conditionCase = (label: string, condition: string): (string | ReturnType<typeof withNode>)[] => [
  label,
  withNode('Check', { ...valid().nodes.Check, cases: [{ condition, next: 'Done' }] }),
  'Check',
  'cases[0].condition',
];

describe('validateDefinition', () => {
  it('accepts a definition that uses every node type', () => {
    expect(validateDefinition(valid(), RULES)).toEqual(valid());
  });

  it.each([
    ['an unknown next node', withNode('Pause', { type: 'wait', ms: 5, next: 'Nowhere' }), 'Pause', 'next'],
    [
      'a catch to an unknown node',
      withNode('Fetch', { ...valid().nodes.Fetch, catch: [{ errors: ['*'], next: 'Gone' }] }),
      'Fetch',
      'catch[0].next',
    ],
    ['an unknown default', withNode('Check', { ...valid().nodes.Check, default: 'Gone' }), 'Check', 'default'],
    ['an unreachable node', withNode('Orphan', { type: 'succeed' }), 'Orphan', 'name'],
    ['a loop without maxVisits', withNode('Check', { ...valid().nodes.Check, maxVisits: undefined }), 'Fetch', 'maxVisits'],
    ['an unknown action', withNode('Fetch', { ...valid().nodes.Fetch, action: 'shell.exec' }), 'Fetch', 'action'],
    conditionCase('a syntax error in a condition', 'data.x =='),
    conditionCase('a condition on an unknown variable', 'process.exit(1)'),
    conditionCase('a condition over 1,000 characters', Array.from({ length: 300 }, () => 'true').join(' && ')),
    conditionCase('a condition that is not true or false', '1 + 2'),
    conditionCase('a condition too long', `data.a == "${'x'.repeat(1000)}"`),
    conditionCase('a condition too large to parse cheaply', Array(90).fill('1 == 1').join(' || ')),
    conditionCase('a condition nested too deep', `${'('.repeat(40)}true${')'.repeat(40)}`),
    [
      'zero retry attempts',
      withNode('Fetch', { ...valid().nodes.Fetch, retry: [{ errors: ['*'], maxAttempts: 0 }] }),
      'Fetch',
      'retry[0].maxAttempts',
    ],
    [
      'a huge backoff rate',
      withNode('Fetch', { ...valid().nodes.Fetch, retry: [{ errors: ['*'], maxAttempts: 2, backoffRate: 100 }] }),
      'Fetch',
      'retry[0].backoffRate',
    ],
    [
      'a max delay under the interval',
      withNode('Fetch', { ...valid().nodes.Fetch, retry: [{ errors: ['*'], maxAttempts: 2, intervalMs: 500, maxDelayMs: 100 }] }),
      'Fetch',
      'retry[0].maxDelayMs',
    ],
    ['a retry rule without errors', withNode('Fetch', { ...valid().nodes.Fetch, retry: [{ maxAttempts: 2 }] }), 'Fetch', 'retry[0].errors'],
    ['a misspelt field', withNode('Pause', { type: 'wait', ms: 5, nxt: 'Fetch', next: 'Fetch' }), 'Pause', 'nxt'],
    ['neither next nor end', withNode('Pause', { type: 'wait', ms: 5 }), 'Pause', 'next'],
    ['both next and end', withNode('Pause', { type: 'wait', ms: 5, next: 'Fetch', end: true }), 'Pause', 'next'],
    ['a malformed path', withNode('Fetch', { ...valid().nodes.Fetch, resultPath: 'response' }), 'Fetch', 'resultPath'],
    ['a malformed input path', withNode('Fetch', { ...valid().nodes.Fetch, input: { url: '$..url' } }), 'Fetch', 'input.url'],
    ['a negative wait', withNode('Pause', { type: 'wait', ms: -1, next: 'Fetch' }), 'Pause', 'ms'],
    ['a fail without an error name', withNode('Failed', { type: 'fail' }), 'Failed', 'error'],
    ['an unknown node type', withNode('Pause', { type: 'goto', next: 'Fetch' }), 'Pause', 'type'],
    [
      'a map without an iterator',
      withNode('Each', { type: 'map', itemsPath: '$.items', end: true }),
      'Each/iterator',
      'Each/iterator.graph',
    ],
    ['too much concurrency', withNode('Each', { ...valid().nodes.Each, maxConcurrency: 1000 }), 'Each', 'maxConcurrency'],
    [
      'an error inside a map iterator',
      withNode('Each', {
        ...valid().nodes.Each,
        iterator: { startAt: 'Shape', nodes: { Shape: { type: 'task', action: 'nope', end: true } } },
      }),
      'Each/iterator/Shape',
      'action',
    ],
    [
      'an unknown field in a nested graph',
      withNode('Both', { ...valid().nodes.Both, branches: [{ ...valid().nodes.Both.branches[0], bogus: 1 }] }),
      'Both/branches[0]',
      'Both/branches[0].bogus',
    ],
    [
      'a malformed path inside an input list',
      withNode('Fetch', { ...valid().nodes.Fetch, input: { urls: ['$.ok', '$..bad['] } }),
      'Fetch',
      'input.urls[1]',
    ],
    conditionCase('a regular expression in a condition', 'data.s.matches("(a+)+$")'),
    conditionCase('matches() behind a comment', 'data.s.matches//x\n("^(a+)+$")'),
    conditionCase('matches() called as a function', 'matches(data.s, "(a+)+$")'),
    conditionCase('a comprehension nested in another (quadratic cost)', 'data.xs.all(x, data.ys.exists(y, y == x))'),
    conditionCase('a condition over 1,000 characters', Array.from({ length: 300 }, () => 'true').join(' && ')),
    conditionCase('a condition that is not true or false', '"text"'),
    ['an action the engine has not registered', withNode('Fetch', { ...valid().nodes.Fetch, action: 'shell.exec' }), 'Fetch', 'action'],
    [
      'an error inside a parallel branch',
      withNode('Both', { ...valid().nodes.Both, branches: [{ startAt: 'X', nodes: { Y: { type: 'succeed' } } }] }),
      'Both/branches[0]',
      'Both/branches[0].startAt',
    ],
  ])('refuses %s, naming the node and the field', (_label, definition, node, field) => {
    expect(problemsOf(definition)).toContainEqual(expect.objectContaining({ node, field }));
  });

  it('says that a choice needs its default, and a rule or case its next, rather than that they name no node', () => {
    const { default: _default, ...noDefault } = valid().nodes.Check;
    expect(problemsOf(withNode('Check', noDefault))).toContainEqual({
      node: 'Check',
      field: 'default',
      message: 'is required: the node to go to when no case holds',
    });
    const noNext = withNode('Check', { ...valid().nodes.Check, cases: [{ condition: 'true' }] });
    expect(problemsOf(noNext)).toContainEqual({
      node: 'Check',
      field: 'cases[0].next',
      message: 'is required: the node to go to when the condition holds',
    });
    const noCatchNext = withNode('Fetch', { ...valid().nodes.Fetch, catch: [{ errors: ['*'] }] });
    expect(problemsOf(noCatchNext)).toContainEqual({
      node: 'Fetch',
      field: 'catch[0].next',
      message: 'is required: the node to go to when the rule catches an error',
    });
  });

  it('refuses a start that names no node, and fields a definition does not have', () => {
    expect(problemsOf({ ...valid(), startAt: 'Nope' })).toContainEqual({ field: 'startAt', message: 'must name one of the nodes' });
    expect(problemsOf({ ...valid(), code: 'eval(1)' })).toContainEqual(expect.objectContaining({ field: 'code' }));
    expect(problemsOf({ startAt: 'A', nodes: {} })).toContainEqual(expect.objectContaining({ field: 'nodes' }));
    expect(problemsOf({ ...valid(), timeoutMs: 0 })).toContainEqual(expect.objectContaining({ field: 'timeoutMs' }));
    expect(() => validateDefinition({ ...valid(), timeoutMs: 60_000 }, RULES)).not.toThrow();
  });

  it('refuses nesting deeper than 64 levels, without overflowing the stack however deep it goes', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i += 1) deep = [deep];
    expect(problemsOf({ ...valid(), metadata: { deep } })).toEqual([
      { field: 'definition', message: 'definition: must not be nested more than 64 levels deep' },
    ]);
  });

  it('reports every problem at once, and names the first in the message', () => {
    const definition = withNode('Pause', { type: 'wait', ms: -1, next: 'Nowhere' });
    try {
      validateDefinition(definition, RULES);
      throw new Error('expected a refusal');
    } catch (error) {
      expect((error as AppError).details.problems).toHaveLength(2);
      expect((error as AppError).message).toBe('definition: node Pause, next must name a node of this graph, got "Nowhere" (and 1 more)');
    }
  });

  describe('the work validation can count', () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => i);
    /** Maps nested `sizes.length` deep, each over a literal list a transform task writes just before it. */
    const nested = (sizes: number[]): Record<string, unknown> => {
      const [size, ...inner] = sizes;
      const body =
        inner.length === 0
          ? { startAt: 'Leaf', nodes: { Leaf: { type: 'task', action: 'transform', input: { at: '$' }, end: true } } }
          : nested(inner);
      return {
        startAt: 'Make',
        nodes: {
          Make: { type: 'task', action: 'transform', input: { items: list(size!) }, resultPath: '$.made', next: 'Each' },
          Each: { type: 'map', itemsPath: '$.made.items', iterator: body, end: true },
        },
      };
    };

    it('refuses nested maps over literal lists past the step budget, naming the outer map', () => {
      const problems = problemsOf(nested([100, 100, 100]));
      expect(problems).toEqual([
        {
          node: 'Each',
          field: 'itemsPath',
          message: expect.stringMatching(
            /^runs \d+ steps or more over the lists the definition writes, past the 10000 an execution may run$/,
          ),
        },
      ]);
      expect(Number(/runs (\d+)/.exec(problems[0]!.message)![1])).toBeGreaterThan(1_000_000);
    });

    it('accepts the same shape under the budget, and any shape over lists that come from the input', () => {
      expect(() => validateDefinition(nested([20, 20, 20]), RULES)).not.toThrow();
      const fromInput = { startAt: 'Each', nodes: { Each: { type: 'map', itemsPath: '$.items', iterator: nested([50, 50]), end: true } } };
      expect(() => validateDefinition(fromInput, RULES)).not.toThrow();
      expect(() => validateDefinition(nested([100, 100]), { ...RULES, maxSteps: 5000 })).toThrow(/past the 5000/);
    });

    it('bounds a map over items that differ by its costliest item, not its first', () => {
      const leaf = { startAt: 'Leaf', nodes: { Leaf: { type: 'task', action: 'transform', input: { at: '$' }, end: true } } };
      const mixed = {
        startAt: 'Make',
        nodes: {
          Make: {
            type: 'task',
            action: 'transform',
            input: { lists: [[1], Array.from({ length: 1000 }, (_, i) => i)] },
            resultPath: '$.made',
            next: 'Outer',
          },
          Outer: {
            type: 'map',
            itemsPath: '$.made.lists',
            end: true,
            iterator: { startAt: 'Inner', nodes: { Inner: { type: 'map', itemsPath: '$', iterator: leaf, end: true } } },
          },
        },
      };
      expect(() => validateDefinition(mixed, { ...RULES, maxSteps: 1500 })).toThrow(/past the 1500/);
      expect(() => validateDefinition(mixed, { ...RULES, maxSteps: 2100 })).not.toThrow();
    });

    it('counts retries and bounded loops', () => {
      const retried = withNode('Fetch', { ...valid().nodes.Fetch, maxVisits: 5, retry: [{ errors: ['*'], maxAttempts: 10 }] });
      expect(() => validateDefinition(retried, { ...RULES, maxSteps: 40 })).toThrow(/past the 40/);
      expect(() => validateDefinition(retried, { ...RULES, maxSteps: 500 })).not.toThrow();
    });
  });

  it('accepts a loop bounded by any one of its nodes', () => {
    const definition = withNode('Check', { ...valid().nodes.Check, maxVisits: undefined });
    definition.nodes.Pause = { type: 'wait', ms: 1, next: 'Fetch', maxVisits: 3 };
    expect(() => validateDefinition(definition, RULES)).not.toThrow();
  });
});
