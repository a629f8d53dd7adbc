import { badInput } from '../domain/errors.ts';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

export interface Page<T> {
  readonly edges: { cursor: string; node: T }[];
  readonly pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** `first` is 0 to 100: anything else is refused rather than quietly clamped. */
export function pageSize(first: number | null | undefined): number {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (size < 0 || size > MAX_PAGE_SIZE) throw badInput('first', `must be between 0 and ${MAX_PAGE_SIZE}`);
  return size;
}

/** Builds a forward page from up to size + 1 rows (the extra row only says there is more). */
export function forwardPage<T>(rows: readonly T[], size: number, hadCursor: boolean, cursorOf: (row: T) => string): Page<T> {
  const edges = rows.slice(0, size).map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > size,
      hasPreviousPage: hadCursor,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

const encode = (kind: string, parts: readonly (string | number | bigint)[]) =>
  Buffer.from(`${kind}:${parts.join(':')}`).toString('base64url');

const INT8_MAX = 2n ** 63n - 1n;
const INT4_MAX = 2n ** 31n - 2n; // a version cursor reads from the version after it

/** Cursors are opaque to clients; a malformed or out-of-range one is bad input, never a server error. */
function decode(kind: string, cursor: string, max: readonly bigint[]): bigint[] {
  const text = Buffer.from(cursor, 'base64url').toString();
  const [prefix, ...parts] = text.split(':');
  const values = parts.map((part) => (/^\d{1,20}$/.test(part) ? BigInt(part) : -1n));
  if (prefix !== kind || values.length !== max.length || values.some((value, i) => value < 0n || value > max[i]!)) {
    throw badInput('after', 'is not a cursor this field issued');
  }
  return values;
}

export const cursors = {
  log: {
    encode: (p: { transactionId: bigint; globalPosition: bigint }) => encode('log', [p.transactionId, p.globalPosition]),
    decode: (cursor: string) => {
      const [transactionId, globalPosition] = decode('log', cursor, [INT8_MAX, INT8_MAX]);
      return { transactionId: transactionId!, globalPosition: globalPosition! };
    },
  },
  version: {
    encode: (version: number) => encode('version', [version]),
    decode: (cursor: string) => Number(decode('version', cursor, [INT4_MAX])[0]),
  },
  audit: {
    encode: (globalPosition: bigint) => encode('audit', [globalPosition]),
    decode: (cursor: string) => decode('audit', cursor, [INT8_MAX])[0]!,
  },
};
