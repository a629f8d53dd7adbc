/**
 * A cache of folded states bounded by count and by size: an execution's state holds its steps'
 * outputs, so a few could otherwise take the memory. A state is weighed once, as JSON, when
 * it is stored; one larger than the whole bound is not kept.
 */
export function stateCacheOptions(max: number, maxSize: number) {
  return { max, maxSize, sizeCalculation: (entry: { readonly state: unknown }) => Math.max(1, JSON.stringify(entry.state)?.length ?? 1) };
}
