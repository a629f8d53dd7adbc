/** The smallest valid workflow definition; `metadata` (free-form) makes two of them differ. */
export function definition(metadata?: Record<string, unknown>) {
  return { startAt: 'Done', nodes: { Done: { type: 'succeed' } }, ...(metadata ? { metadata } : {}) };
}

/** The same, as a GraphQL literal. */
export const DEFINITION = '{ startAt: "Done", nodes: { Done: { type: "succeed" } } }';
