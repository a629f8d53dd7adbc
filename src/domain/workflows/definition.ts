import { AppError, badInput, refuseNul } from '../errors.ts';
import { conditionProblem } from './expressions.ts';
import { stepBound } from './bound.ts';
import type { Definition } from './graph.ts';

// The definition language: docs/definitions.md describes it for users. Validation is pure
// and reports every problem at once, each with the node and the field it is about.

/** What a definition is checked against besides its own shape. */
export interface DefinitionRules {
  readonly maxBytes: number;
  /** The action names the engine has registered. */
  readonly actions: ReadonlySet<string>;
  /** The workspace's step budget per execution: a definition sure to run more steps is refused. */
  readonly maxSteps: number;
}

export interface DefinitionProblem {
  /** The node, as a path for nested graphs: "Each/iterator/Inner"; absent for the root. */
  readonly node?: string;
  readonly field: string;
  readonly message: string;
}

export const NODE_TYPES = ['task', 'choice', 'map', 'parallel', 'wait', 'succeed', 'fail'] as const;
type NodeType = (typeof NODE_TYPES)[number];

const NAME = /^[A-Za-z][\w-]{0,79}$/;
/** A data path: `$`, then `.field` or `[index]` steps. Paths are resolved by our own code. */
export const PATH = /^\$(\.[A-Za-z_][\w]*|\[\d{1,6}\])*$/;
const MAX_NODES = 500;
const MAX_CASES = 50;
const MAX_BRANCHES = 20;
const MAX_RULES = 10;
const HOUR = 3_600_000;

const FIELDS: Record<NodeType, readonly string[]> = {
  task: ['action', 'input', 'resultPath', 'timeoutMs', 'retry', 'catch'],
  choice: ['cases', 'default'],
  map: ['itemsPath', 'iterator', 'maxConcurrency', 'resultPath'],
  parallel: ['branches', 'maxConcurrency', 'resultPath'],
  wait: ['ms'],
  succeed: ['outputPath'],
  fail: ['error', 'cause'],
};
const TRANSITIONS: Record<NodeType, readonly string[]> = {
  task: ['next', 'end'],
  choice: [],
  map: ['next', 'end'],
  parallel: ['next', 'end'],
  wait: ['next', 'end'],
  succeed: [],
  fail: [],
};

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isInteger = (value: unknown, min: number, max: number) =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

class Problems {
  readonly list: DefinitionProblem[] = [];
  add(node: string | undefined, field: string, message: string): void {
    this.list.push(node === undefined ? { field, message } : { node, field, message });
  }
}

/** Checks one graph (the root, a map's iterator or a parallel branch) and its nested graphs. */
function checkGraph(graph: unknown, scope: string | undefined, problems: Problems, rules: DefinitionRules): void {
  const at = (field: string) => (scope === undefined ? field : `${scope}.${field}`);
  if (!isObject(graph)) return problems.add(scope, at('graph'), 'must be an object with startAt and nodes');
  if (scope !== undefined) {
    for (const field of Object.keys(graph)) {
      if (field !== 'startAt' && field !== 'nodes') problems.add(scope, at(field), 'is not a field of a graph');
    }
  }
  const { startAt, nodes } = graph;
  if (!isObject(nodes) || Object.keys(nodes).length === 0)
    return problems.add(scope, at('nodes'), 'must be an object of one or more nodes');
  const names = Object.keys(nodes);
  if (names.length > MAX_NODES) problems.add(scope, at('nodes'), `has more than ${MAX_NODES} nodes`);
  const starts = typeof startAt === 'string' && Object.hasOwn(nodes, startAt);
  if (!starts) problems.add(scope, at('startAt'), 'must name one of the nodes');

  const edges = new Map<string, string[]>();
  for (const name of names) {
    const node = scope === undefined ? name : `${scope}/${name}`;
    if (!NAME.test(name)) problems.add(node, 'name', 'must start with a letter and hold at most 80 letters, digits, _ or -');
    edges.set(name, checkNode(nodes[name], node, names, problems, rules));
  }
  if (starts) checkShape(startAt as string, edges, nodes, scope, problems);
}

/** Checks a node's fields; returns the names it can go to next. */
function checkNode(value: unknown, node: string, names: readonly string[], problems: Problems, rules: DefinitionRules): string[] {
  if (!isObject(value)) {
    problems.add(node, 'type', 'the node must be an object with a type');
    return [];
  }
  const type = value.type as NodeType;
  if (!NODE_TYPES.includes(type)) {
    problems.add(node, 'type', `must be one of ${NODE_TYPES.join(', ')}`);
    return [];
  }
  const allowed = new Set(['type', 'maxVisits', ...FIELDS[type], ...TRANSITIONS[type]]);
  for (const field of Object.keys(value)) if (!allowed.has(field)) problems.add(node, field, `is not a field of a ${type} node`);
  if (value.maxVisits !== undefined && !isInteger(value.maxVisits, 1, 10_000)) {
    problems.add(node, 'maxVisits', 'must be an integer from 1 to 10000');
  }

  const targets: string[] = [];
  /** `next` names a node; `what` says what the node is for, should `next` be missing. */
  const target = (field: string, next: unknown, what?: string) => {
    if (typeof next === 'string' && names.includes(next)) targets.push(next);
    else if (next === undefined && what) problems.add(node, field, `is required: ${what}`);
    else problems.add(node, field, `must name a node of this graph, got ${JSON.stringify(next)}`);
  };
  const path = (field: string, required = false) => {
    const v = value[field];
    if (v === undefined && !required) return;
    if (typeof v !== 'string' || !PATH.test(v)) problems.add(node, field, 'must be a path such as $.order.items[0]');
  };
  const concurrency = () => {
    if (value.maxConcurrency !== undefined && !isInteger(value.maxConcurrency, 1, 100)) {
      problems.add(node, 'maxConcurrency', 'must be an integer from 1 to 100');
    }
  };

  if (TRANSITIONS[type].length > 0) {
    if (value.end === true && value.next === undefined) {
      // the end of its graph
    } else if (value.end === undefined && value.next !== undefined) {
      target('next', value.next);
    } else {
      problems.add(node, 'next', 'exactly one of next (a node) or end: true is required');
    }
  }

  switch (type) {
    case 'task': {
      if (typeof value.action !== 'string' || !rules.actions.has(value.action)) {
        problems.add(node, 'action', `must be a known action, got ${JSON.stringify(value.action)}`);
      }
      if (value.input !== undefined) {
        if (!isObject(value.input)) problems.add(node, 'input', 'must be an object');
        else checkInput(value.input, node, 'input', problems);
      }
      path('resultPath');
      if (value.timeoutMs !== undefined && !isInteger(value.timeoutMs, 1, HOUR)) {
        problems.add(node, 'timeoutMs', `must be an integer from 1 to ${HOUR}`);
      }
      checkRules(value.retry, node, 'retry', problems, (rule, field) => {
        if (!isInteger(rule.maxAttempts, 1, 10)) problems.add(node, `${field}.maxAttempts`, 'must be an integer from 1 to 10');
        if (rule.intervalMs !== undefined && !isInteger(rule.intervalMs, 0, HOUR))
          problems.add(node, `${field}.intervalMs`, `must be an integer from 0 to ${HOUR}`);
        if (rule.backoffRate !== undefined && !(typeof rule.backoffRate === 'number' && rule.backoffRate >= 1 && rule.backoffRate <= 10)) {
          problems.add(node, `${field}.backoffRate`, 'must be a number from 1 to 10');
        }
        const interval = typeof rule.intervalMs === 'number' ? rule.intervalMs : 1000;
        if (rule.maxDelayMs !== undefined && !(isInteger(rule.maxDelayMs, 0, HOUR) && (rule.maxDelayMs as number) >= interval)) {
          problems.add(node, `${field}.maxDelayMs`, 'must be an integer of at least intervalMs, at most an hour');
        }
        if (rule.jitter !== undefined && typeof rule.jitter !== 'boolean') problems.add(node, `${field}.jitter`, 'must be true or false');
        for (const key of Object.keys(rule)) {
          if (!['errors', 'maxAttempts', 'intervalMs', 'backoffRate', 'maxDelayMs', 'jitter'].includes(key))
            problems.add(node, `${field}.${key}`, 'is not a field of a retry rule');
        }
      });
      checkRules(value.catch, node, 'catch', problems, (rule, field) => {
        target(`${field}.next`, rule.next, 'the node to go to when the rule catches an error');
        if (rule.resultPath !== undefined && (typeof rule.resultPath !== 'string' || !PATH.test(rule.resultPath))) {
          problems.add(node, `${field}.resultPath`, 'must be a path such as $.error');
        }
        for (const key of Object.keys(rule)) {
          if (!['errors', 'resultPath', 'next'].includes(key)) problems.add(node, `${field}.${key}`, 'is not a field of a catch rule');
        }
      });
      break;
    }
    case 'choice': {
      if (!Array.isArray(value.cases) || value.cases.length === 0 || value.cases.length > MAX_CASES) {
        problems.add(node, 'cases', `must be a list of 1 to ${MAX_CASES} cases`);
      } else {
        value.cases.forEach((entry: unknown, i) => {
          const field = `cases[${i}]`;
          if (!isObject(entry)) return problems.add(node, field, 'must be an object with condition and next');
          const problem = typeof entry.condition === 'string' ? conditionProblem(entry.condition) : 'must be a CEL expression';
          if (problem) problems.add(node, `${field}.condition`, problem);
          target(`${field}.next`, entry.next, 'the node to go to when the condition holds');
        });
      }
      target('default', value.default, 'the node to go to when no case holds');
      break;
    }
    case 'map':
      path('itemsPath', true);
      path('resultPath');
      concurrency();
      checkGraph(value.iterator, `${node}/iterator`, problems, rules);
      break;
    case 'parallel':
      path('resultPath');
      concurrency();
      if (!Array.isArray(value.branches) || value.branches.length === 0 || value.branches.length > MAX_BRANCHES) {
        problems.add(node, 'branches', `must be a list of 1 to ${MAX_BRANCHES} graphs`);
      } else {
        value.branches.forEach((branch: unknown, i) => checkGraph(branch, `${node}/branches[${i}]`, problems, rules));
      }
      break;
    case 'wait':
      if (!isInteger(value.ms, 0, 24 * HOUR)) problems.add(node, 'ms', 'must be an integer from 0 to 86400000');
      break;
    case 'succeed':
      path('outputPath');
      break;
    case 'fail':
      if (typeof value.error !== 'string' || value.error === '' || value.error.length > 200)
        problems.add(node, 'error', 'must be an error name of 1 to 200 characters');
      if (value.cause !== undefined && typeof value.cause !== 'string') problems.add(node, 'cause', 'must be a string');
      break;
  }
  return targets;
}

/** Input values are literals, or paths into the execution's data (strings starting with $). */
function checkInput(input: Json | unknown[], node: string, field: string, problems: Problems): void {
  for (const [key, v] of Object.entries(input)) {
    const at = Array.isArray(input) ? `${field}[${key}]` : `${field}.${key}`;
    if (typeof v === 'string' && v.startsWith('$') && !PATH.test(v)) problems.add(node, at, 'is not a valid path');
    else if (typeof v === 'object' && v !== null) checkInput(v as Json | unknown[], node, at, problems);
  }
}

function checkRules(rules: unknown, node: string, field: string, problems: Problems, each: (rule: Json, field: string) => void): void {
  if (rules === undefined) return;
  if (!Array.isArray(rules) || rules.length === 0 || rules.length > MAX_RULES) {
    return problems.add(node, field, `must be a list of 1 to ${MAX_RULES} rules`);
  }
  rules.forEach((rule: unknown, i) => {
    const at = `${field}[${i}]`;
    if (!isObject(rule)) return problems.add(node, at, 'must be an object');
    if (!Array.isArray(rule.errors) || rule.errors.length === 0 || rule.errors.some((e) => typeof e !== 'string' || e === '')) {
      problems.add(node, `${at}.errors`, 'must be a list of error names ("*" matches any)');
    }
    each(rule, at);
  });
}

/** Every node is reachable, and every loop passes a node that declares maxVisits. */
function checkShape(startAt: string, edges: Map<string, string[]>, nodes: Json, scope: string | undefined, problems: Problems): void {
  const seen = new Set<string>();
  const stack = [startAt];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    stack.push(...(edges.get(name) ?? []));
  }
  const nodeName = (name: string) => (scope === undefined ? name : `${scope}/${name}`);
  for (const name of edges.keys()) if (!seen.has(name)) problems.add(nodeName(name), 'name', `cannot be reached from ${startAt}`);

  // Without the nodes that bound their visits, what is left must have no cycle.
  const bounded = (name: string) => isObject(nodes[name]) && (nodes[name] as Json).maxVisits !== undefined;
  const state = new Map<string, 'open' | 'done'>();
  const visit = (name: string): void => {
    if (bounded(name) || state.get(name) === 'done') return;
    if (state.get(name) === 'open')
      return problems.add(nodeName(name), 'maxVisits', 'is on a loop that no node bounds: a node of the loop must declare maxVisits');
    state.set(name, 'open');
    for (const next of edges.get(name) ?? []) visit(next);
    state.set(name, 'done');
  };
  for (const name of seen) visit(name);
}

/** A definition fit to store: well-formed, within the size limit, every reference sound. */
export function validateDefinition(value: unknown, rules: DefinitionRules): Definition {
  if (!isObject(value)) throw badInput('definition', 'must be a JSON object');
  refuseNul(value, 'definition');
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > rules.maxBytes) throw badInput('definition', `is ${bytes} bytes, more than the limit of ${rules.maxBytes}`);
  const problems = new Problems();
  for (const field of Object.keys(value)) {
    if (!['startAt', 'nodes', 'metadata', 'timeoutMs'].includes(field)) problems.add(undefined, field, 'is not a field of a definition');
  }
  if (value.metadata !== undefined && !isObject(value.metadata)) problems.add(undefined, 'metadata', 'must be an object');
  if (value.timeoutMs !== undefined && !isInteger(value.timeoutMs, 1, 24 * HOUR)) {
    problems.add(undefined, 'timeoutMs', 'must be an integer from 1 to 86400000');
  }
  checkGraph(value, undefined, problems, rules);
  // Only a definition that holds together can be walked for its work.
  if (problems.list.length === 0) {
    const bound = stepBound(value as unknown as Definition);
    if (bound.steps > rules.maxSteps && bound.node !== undefined) {
      const field = (value.nodes as Json)[bound.node] && ((value.nodes as Json)[bound.node] as Json).type === 'map' ? 'itemsPath' : 'type';
      problems.add(
        bound.node,
        field,
        `runs ${bound.steps} steps or more over the lists the definition writes, past the ${rules.maxSteps} an execution may run`,
      );
    }
  }
  if (problems.list.length > 0) {
    const [first] = problems.list;
    const where = first!.node ? `node ${first!.node}, ${first!.field}` : first!.field;
    throw new AppError(
      'BAD_USER_INPUT',
      `definition: ${where} ${first!.message}${problems.list.length > 1 ? ` (and ${problems.list.length - 1} more)` : ''}`,
      {
        field: 'definition',
        problems: problems.list,
      },
    );
  }
  return value as unknown as Definition;
}
