/** The smallest valid workflow definition; `metadata` (free-form) makes two of them differ. */
export function definition(metadata?: Record<string, unknown>) {
  return { startAt: 'Done', nodes: { Done: { type: 'succeed' } }, ...(metadata ? { metadata } : {}) };
}

/** The same, as a GraphQL literal. */
export const DEFINITION = '{ startAt: "Done", nodes: { Done: { type: "succeed" } } }';

/** One map node, `Each`, running `iterator` over the list at `itemsPath`, with the map's other fields. */
export function mapOf(
  iterator: unknown,
  { itemsPath = '$.items', ...fields }: { itemsPath?: string; maxConcurrency?: number; resultPath?: string } = {},
) {
  return { startAt: 'Each', nodes: { Each: { type: 'map', itemsPath, ...fields, iterator, end: true } } };
}

/** An iterator that GETs its item, a URL. */
export const GET_ITEM = { startAt: 'Get', nodes: { Get: { type: 'task', action: 'http.request', input: { url: '$' }, end: true } } };
