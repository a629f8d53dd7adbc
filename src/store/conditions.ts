/**
 * The optional conditions of a read, each added only when asked for: no `$n IS NULL OR` guards,
 * which hide the right index from the planner.
 */
export class Conditions {
  readonly params: unknown[];
  #where = '';

  constructor(params: unknown[]) {
    this.params = params;
  }

  /** `sql` with a `?` per value, in order. */
  add(sql: string, ...values: unknown[]): void {
    let next = 0;
    this.#where += ` AND ${sql.replace(/\?/g, () => `$${this.params.push(values[next++])}`)}`;
  }

  get where(): string {
    return this.#where;
  }
}

const names = new Map<string, string>();

/**
 * A prepared statement's name for a text whose shape varies with the conditions present: one
 * name per distinct text, so that each connection plans each shape once and no two texts can
 * share a name (node-pg refuses that).
 */
export function statementName(prefix: string, text: string): string {
  let name = names.get(text);
  if (!name) names.set(text, (name = `${prefix}-${names.size}`));
  return name;
}
