import { AppError } from '../domain/errors.ts';

/** Error codes of a connection's loss or a server that cannot serve: anything of class 08, and these. */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014']);
/** Socket errors on the way to the server. */
const ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
/** What node-postgres says when it loses a connection or gives up on one (it sets no code then). */
const MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed|Connection ended/i;
/** What Prisma says of the same (its own codes, and its driver adapter's kinds). */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);

interface Described {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
  readonly meta?: { readonly driverAdapterError?: { readonly cause?: { readonly kind?: unknown; readonly originalCode?: unknown } } };
}

/**
 * Whether an error says the database could not be reached or went away, rather than refused
 * what was asked: such a request may succeed if tried again once the database is back. A
 * statement cancelled by its timeout (57014) counts too: the database did not answer in time.
 */
export function isUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth += 1) {
    const { code, message, meta, cause } = current as Described;
    if (typeof code === 'string' && (code.startsWith('08') || SQLSTATES.has(code) || ERRNOS.has(code) || PRISMA_CODES.has(code)))
      return true;
    const adapter = meta?.driverAdapterError?.cause;
    if (
      adapter &&
      (ADAPTER_KINDS.has(String(adapter.kind)) || (typeof adapter.originalCode === 'string' && SQLSTATES.has(adapter.originalCode)))
    )
      return true;
    if (typeof message === 'string' && MESSAGES.test(message) && !code) return true;
    if (current instanceof AggregateError) return current.errors.some(isUnavailable);
    current = cause;
  }
  return false;
}

/**
 * A COMMIT (or a statement that is its own transaction) whose answer was lost with its
 * connection: the transaction may have committed or not. Only a read after it can tell
 * (appends tell by their event ids).
 */
export class AmbiguousCommitError extends Error {
  constructor(cause: unknown) {
    super('the connection was lost before the commit was answered: the transaction may or may not have committed', { cause });
    this.name = 'AmbiguousCommitError';
  }
}

/** What a caller is told while the database cannot be reached: retry shortly. */
export function unavailable(writeMayHaveHappened = false): AppError {
  return new AppError(
    'UNAVAILABLE',
    writeMayHaveHappened
      ? 'the database went away while this write committed, and it cannot be told yet whether it did: retry with the same idempotencyKey, which is safe either way'
      : 'the database cannot be reached right now: retry shortly',
    {
      retryAfterSeconds: 1,
      ...(writeMayHaveHappened ? { committed: 'unknown' } : {}),
      http: { status: 503, headers: { 'Retry-After': '1' } },
    },
  );
}
