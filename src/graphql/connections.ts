import { isUuid } from '../app/ids.ts';
import { badInput } from '../domain/errors.ts';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

export interface Page<T> {
  readonly edges: { cursor: string; node: T }[];
  readonly pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** `first` (or `last`) is 0 to 100: anything else is refused rather than quietly clamped. */
export function pageSize(first: number | null | undefined, field = 'first'): number {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (size < 0 || size > MAX_PAGE_SIZE) throw badInput(field, `must be between 0 and ${MAX_PAGE_SIZE}`);
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

const notOurs = (field: string) => badInput(field, 'is not a cursor this field issued');

/**
 * A cursor's parts, if it is one of `kind` written exactly as this server writes it (base64url
 * decoding alone would pass stray characters and the other alphabet). Cursors are opaque to
 * clients; a malformed one is bad input, never a server error.
 */
function partsOf(kind: string, cursor: string, field: string): string[] {
  const text = Buffer.from(cursor, 'base64url').toString();
  const [prefix, ...parts] = text.split(':');
  if (prefix !== kind || Buffer.from(text).toString('base64url') !== cursor) throw notOurs(field);
  return parts;
}

/** A cursor of integers, each at most its maximum. */
function decode(kind: string, cursor: string, max: readonly bigint[], field = 'after'): bigint[] {
  const values = partsOf(kind, cursor, field).map((part) => (/^\d{1,20}$/.test(part) ? BigInt(part) : -1n));
  if (values.length !== max.length || values.some((value, i) => value < 0n || value > max[i]!)) throw notOurs(field);
  return values;
}

/** A row of a list ordered by id (time-ordered ids, newest first); each list's cursors are its own. */
const idCursors = (kind: string) => ({
  encode: (id: string) => encode(kind, [id]),
  decode: (cursor: string, field: 'after' | 'before') => {
    const parts = partsOf(kind, cursor, field);
    if (parts.length !== 1 || !isUuid(parts[0]!) || parts[0] !== parts[0]!.toLowerCase()) throw notOurs(field);
    return parts[0]!;
  },
});

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
  workflow: idCursors('workflow'),
  execution: idCursors('execution'),
};

export type ListCursors = ReturnType<typeof idCursors>;

/** How a newest-first list pages, as its schema description says it. */
export const LIST_PAGES =
  'Newest first. `first` and `after` page towards older rows, `last` and `before` towards newer ones; give one pair, not both.';

/** A list page's arguments, as Relay's connections take them. */
export interface ListPageArgs {
  readonly first?: number | null | undefined;
  readonly after?: string | null | undefined;
  readonly last?: number | null | undefined;
  readonly before?: string | null | undefined;
}

/** What a page of a newest-first list reads: `size` rows after `cursor`, or before it when `backward`. */
export interface ListPage {
  readonly size: number;
  readonly backward: boolean;
  readonly cursor: string | undefined;
  readonly cursors: ListCursors;
}

/**
 * `first`/`after` page forwards (older), `last`/`before` backwards (newer); one pair at a
 * time, as mixing them has no single meaning.
 */
export function listPage(args: ListPageArgs, cursors: ListCursors): ListPage {
  const backward = args.last != null || args.before != null;
  if (backward && (args.first != null || args.after != null)) {
    throw badInput(args.last != null ? 'last' : 'before', 'first and after page forwards, last and before backwards: give one pair');
  }
  const size = backward ? pageSize(args.last, 'last') : pageSize(args.first);
  const cursor = backward ? args.before : args.after;
  return { size, backward, cursors, cursor: cursor == null ? undefined : cursors.decode(cursor, backward ? 'before' : 'after') };
}

/**
 * The page from up to size + 1 rows read in the page's direction and given newest first: the
 * extra row, if any, only says there is more (older rows forwards, newer ones backwards).
 */
export function listConnection<T extends { readonly id: string }>(rows: readonly T[], page: ListPage): Page<T> {
  const more = rows.length > page.size;
  const kept = !more ? rows : page.backward ? rows.slice(rows.length - page.size) : rows.slice(0, page.size);
  const edges = kept.map((node) => ({ cursor: page.cursors.encode(node.id), node }));
  const hadCursor = page.cursor !== undefined;
  return {
    edges,
    pageInfo: {
      hasNextPage: page.backward ? hadCursor : more,
      hasPreviousPage: page.backward ? more : hadCursor,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
