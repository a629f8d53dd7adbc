/**
 * One row of a read model, keyed by its `id`, as a projection describes it: written in the
 * append's transaction, or by the append's own statement (AppendOptions.row).
 */
export interface ReadModelRow {
  readonly table: string;
  /** Column → value, as JSON gives it (PostgreSQL casts each to its column's type). */
  readonly values: Readonly<Record<string, unknown>>;
  /** Columns an existing row keeps: what the row was created with. */
  readonly insertOnly: readonly string[];
  /**
   * Columns that hold the time of the append's first or last event. Written by the append's
   * own statement, they take it from the events stored; `values` holds the time folded before.
   */
  readonly eventTimes: Readonly<Record<string, 'first' | 'last'>>;
}

/**
 * The upsert of a row whose values are the JSON parameter `param`. `expressions` replace some
 * columns' values (an append's own statement gives its event times); `where` guards the insert.
 */
export function upsertRowStatement(
  row: ReadModelRow,
  param: string,
  options: { readonly expressions?: Readonly<Record<string, string>>; readonly from?: string; readonly where?: string } = {},
): string {
  const columns = Object.keys(row.values);
  const updated = columns.filter((column) => column !== 'id' && !row.insertOnly.includes(column));
  return `INSERT INTO ${row.table} (${columns.join(', ')})
    SELECT ${columns.map((column) => options.expressions?.[column] ?? `r.${column}`).join(', ')}
    FROM jsonb_populate_record(NULL::${row.table}, ${param}::jsonb) r${options.from ?? ''}${options.where ? ` WHERE ${options.where}` : ''}
    ON CONFLICT (id) DO UPDATE SET ${updated.map((column) => `${column} = EXCLUDED.${column}`).join(', ')}`;
}
