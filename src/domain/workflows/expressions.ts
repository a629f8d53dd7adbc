import { Environment } from '@marcbachmann/cel-js';

export const MAX_CONDITION_LENGTH = 1000;

/**
 * Conditions are CEL (Common Expression Language): not Turing-complete, no I/O, and parsed
 * under structural limits. Those bound an expression's size; what it costs to evaluate also
 * grows with the data it walks (a comprehension inside a comprehension), which the engine
 * must bound when it evaluates. The execution's data is the variable `data`.
 */
const conditions = new Environment({
  limits: { maxAstNodes: 256, maxDepth: 24, maxListElements: 64, maxMapEntries: 64, maxCallArguments: 8 },
}).registerVariable('data', 'map');

/** Why a condition is not usable, or null when it is. */
export function conditionProblem(expression: string): string | null {
  if (expression.length > MAX_CONDITION_LENGTH) return `is longer than ${MAX_CONDITION_LENGTH} characters`;
  // cel-js runs matches() with JavaScript regular expressions, which can take exponential
  // time on crafted input (CEL's own RE2 cannot); it is not offered.
  if (/\bmatches\s*\(/.test(expression)) return 'may not use matches(): regular expressions are not supported';
  let result;
  try {
    result = conditions.check(expression);
  } catch (error) {
    return `is not a valid expression: ${(error as Error).message.split('\n')[0]}`;
  }
  if (!result.valid) {
    return `is not a valid expression: ${(result.error as Error | undefined)?.message?.split('\n')[0] ?? 'invalid'}`;
  }
  if (result.type !== 'bool' && result.type !== 'dyn') return `must be true or false, but gives ${result.type}`;
  return null;
}
