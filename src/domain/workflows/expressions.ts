import { Environment, type ASTNode } from '@marcbachmann/cel-js';

export const MAX_CONDITION_LENGTH = 1000;

/**
 * Conditions are CEL (Common Expression Language): not Turing-complete, no I/O, and parsed
 * under structural limits that bound an expression's size. Evaluation cost also grows with
 * the data it walks: a comprehension inside a comprehension is quadratic in a list's length,
 * so it is refused, and the engine evaluates under a time limit besides (src/engine/conditions.ts).
 * The execution's data is the variable `data`.
 */
const conditions = new Environment({
  limits: { maxAstNodes: 256, maxDepth: 24, maxListElements: 64, maxMapEntries: 64, maxCallArguments: 8 },
}).registerVariable('data', 'map');

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** The name a call node calls: `f(x)` and `x.f()` alike. */
const calledName = ({ op, args }: ASTNode) => ((op === 'rcall' || op === 'call') && Array.isArray(args) ? args[0] : undefined);

/** Whether a comprehension macro is called inside another one's arguments. */
function nestsComprehensions(node: unknown, inside = false): boolean {
  if (Array.isArray(node)) return node.some((child) => nestsComprehensions(child, inside));
  if (typeof node !== 'object' || node === null || !('op' in node)) return false;
  const { op, args } = node as ASTNode;
  if (op === 'rcall' && Array.isArray(args) && COMPREHENSIONS.has(args[0] as string)) {
    if (inside) return true;
    return nestsComprehensions(args[1], false) || nestsComprehensions(args[2], true);
  }
  return nestsComprehensions(args, inside);
}

/** Whether a call to `name` appears anywhere in the tree: read from the parse, not the text. */
function calls(node: unknown, name: string): boolean {
  if (Array.isArray(node)) return node.some((child) => calls(child, name));
  if (typeof node !== 'object' || node === null || !('op' in node)) return false;
  return calledName(node as ASTNode) === name || calls((node as ASTNode).args, name);
}

/** Why a condition is not usable, or null when it is. */
export function conditionProblem(expression: string): string | null {
  if (expression.length > MAX_CONDITION_LENGTH) return `is longer than ${MAX_CONDITION_LENGTH} characters`;
  let result;
  try {
    const parsed = conditions.parse(expression);
    // cel-js runs matches() with JavaScript regular expressions, which can take exponential
    // time on crafted input (CEL's own RE2 cannot); it is not offered.
    if (calls(parsed.ast, 'matches')) return 'may not use matches(): regular expressions are not supported';
    if (nestsComprehensions(parsed.ast)) return 'may not nest a comprehension (all, exists, exists_one, map, filter) inside another';
    result = parsed.check();
  } catch (error) {
    return `is not a valid expression: ${(error as Error).message.split('\n')[0]}`;
  }
  if (!result.valid) {
    return `is not a valid expression: ${(result.error as Error | undefined)?.message?.split('\n')[0] ?? 'invalid'}`;
  }
  if (result.type !== 'bool' && result.type !== 'dyn') return `must be true or false, but gives ${result.type}`;
  return null;
}

/** Evaluates a condition that conditionProblem accepted. Throws when the data does not fit it. */
export function evaluateCondition(expression: string, data: unknown): boolean {
  const result = conditions.evaluate(expression, { data: data ?? {} });
  if (typeof result !== 'boolean') throw new TypeError(`the condition gave ${typeof result}, not true or false`);
  return result;
}
