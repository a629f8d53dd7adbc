import type { Definition, Graph, Node } from './graph.ts';

// How many steps a definition will run, where validation can know it: maps over lists that
// the definition writes itself (a transform task's literal input), nested or not, and loops
// bounded by maxVisits. Lists from the execution's input are unknown here (counted as one
// item): the budget bounds those when they run.

const UNKNOWN = Symbol('unknown');
type Known = unknown;

/** Counts stop growing here: past any budget, and far from losing precision. */
const CEILING = 1e15;
const times = (a: number, b: number) => Math.min(CEILING, a * b);

/** `$.a.b[2]` as steps. */
const steps = (path: string) =>
  [...path.slice(1).matchAll(/\.([A-Za-z_]\w*)|\[(\d+)\]/g)].map((m) => (m[1] !== undefined ? m[1] : Number(m[2])));

function read(data: Known, path: string): Known {
  let current = data;
  for (const step of steps(path)) {
    if (current === UNKNOWN || typeof current !== 'object' || current === null) return UNKNOWN;
    current = Object.hasOwn(current, step) ? (current as Record<string | number, unknown>)[step] : UNKNOWN;
  }
  return current;
}

function write(data: Known, path: string, value: Known): Known {
  const into = (current: Known, rest: (string | number)[]): Known => {
    if (rest.length === 0) return value;
    const [step, ...tail] = rest as [string | number, ...(string | number)[]];
    const base: object = typeof current === 'object' && current !== null ? current : {};
    const copy = (Array.isArray(base) ? [...base] : { ...base }) as Record<string | number, unknown>;
    copy[step] = into(Object.hasOwn(base, step) ? (base as Record<string | number, unknown>)[step] : UNKNOWN, tail);
    return copy;
  };
  return into(data, steps(path));
}

/** A transform's output: its literal input, with paths into the data read where they are known. */
function evaluate(template: unknown, data: Known): Known {
  if (typeof template === 'string') return template.startsWith('$') ? read(data, template) : template;
  if (Array.isArray(template)) return template.map((item) => evaluate(item, data));
  if (typeof template === 'object' && template !== null) {
    return Object.fromEntries(Object.entries(template).map(([key, value]) => [key, evaluate(value, data)]));
  }
  return template;
}

export interface StepBound {
  /** Steps the definition runs, as far as validation can tell (every reachable node counted). */
  readonly steps: number;
  /** The node of the top graph that runs the most of them. */
  readonly node: string | undefined;
}

/** One node's steps, and the data after it. */
function nodeCost(node: Node, data: Known): { steps: number; data: Known } {
  const place = (resultPath: string | undefined, value: Known) => (resultPath === undefined ? data : write(data, resultPath, value));
  switch (node.type) {
    case 'task': {
      const attempts = Math.max(1, ...(node.retry ?? []).map((rule) => rule.maxAttempts));
      const output = node.action === 'transform' ? evaluate(node.input ?? '$', data) : UNKNOWN;
      return { steps: attempts, data: place(node.resultPath, output) };
    }
    case 'wait':
      return { steps: 1, data };
    case 'map': {
      const items = read(data, node.itemsPath);
      const list = Array.isArray(items) ? items : [UNKNOWN];
      // Items may differ (a list of lists of different lengths): the costliest bounds them all.
      // A scalar is never mapped over, so scalars cost alike; lists and objects are costed once
      // for each distinct one (they are written in the definition, so there are few).
      const distinct = new Map<string, Known>();
      for (const item of list.length > 0 ? list : [UNKNOWN]) {
        distinct.set(typeof item === 'object' && item !== null ? JSON.stringify(item) : 'scalar', item);
      }
      let inner = 0;
      for (const item of distinct.values()) {
        inner = Math.max(inner, graphCost(node.iterator, item).steps);
        if (inner >= CEILING) break;
      }
      return { steps: Math.min(CEILING, 1 + times(list.length, inner)), data: place(node.resultPath, UNKNOWN) };
    }
    case 'parallel': {
      const branches = node.branches.map((branch) => graphCost(branch, data).steps);
      return { steps: Math.min(CEILING, 1 + branches.reduce((sum, branch) => sum + branch, 0)), data: place(node.resultPath, UNKNOWN) };
    }
    default:
      return { steps: 0, data };
  }
}

/** A graph's steps: every node reachable from its start once, with the data it is first reached with, times its maxVisits. */
function graphCost(graph: Graph, input: Known): StepBound {
  let total = 0;
  let worst: { steps: number; node: string } | undefined;
  const seen = new Set<string>();
  const pending: [string, Known][] = [[graph.startAt, input]];
  while (pending.length > 0) {
    const [name, data] = pending.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const node = graph.nodes[name]!;
    const cost = nodeCost(node, data);
    const steps = times(cost.steps, node.maxVisits ?? 1);
    total = Math.min(CEILING, total + steps);
    if (!worst || steps > worst.steps) worst = { steps, node: name };
    const next =
      node.type === 'choice'
        ? [node.default, ...node.cases.map((option) => option.next)]
        : [
            ...('next' in node && node.next ? [node.next] : []),
            ...(node.type === 'task' ? (node.catch ?? []).map((rule) => rule.next) : []),
          ];
    for (const target of next) pending.push([target, cost.data]);
  }
  return { steps: total, node: worst?.node };
}

/** How many steps a valid definition runs, as far as validation can tell, and where most of them are. */
export function stepBound(definition: Definition): StepBound {
  return graphCost(definition, UNKNOWN);
}
