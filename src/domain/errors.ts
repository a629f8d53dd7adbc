// Every error a client must handle, with the stable code it carries on the wire.
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'VERSION_CONFLICT'
  | 'BAD_USER_INPUT'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'OVERLOADED';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

export type ExpectedVersion = 'ANY' | 'NO_STREAM' | 'STREAM_EXISTS' | number;

export class VersionConflictError extends AppError {
  readonly expectedVersion: ExpectedVersion;
  readonly actualVersion: number;

  constructor(expectedVersion: ExpectedVersion, actualVersion: number) {
    super('VERSION_CONFLICT', `expected version ${expectedVersion}, but the stream is at version ${actualVersion}`, {
      expectedVersion,
      actualVersion,
    });
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

export const notFound = (what: string, id: string): AppError =>
  new AppError('NOT_FOUND', `${what} ${id} was not found`, { id });

export const badInput = (field: string, message: string): AppError =>
  new AppError('BAD_USER_INPUT', `${field}: ${message}`, { field });

/**
 * PostgreSQL stores no NUL character in text or jsonb: a value that holds one (in a string or
 * an object key, at any depth) is refused here rather than failing in SQL.
 */
export function refuseNul(value: unknown, field: string): void {
  const holdsNul = (v: unknown): boolean =>
    typeof v === 'string'
      ? v.includes('\u0000')
      : typeof v === 'object' && v !== null && Object.entries(v).some(([key, inner]) => key.includes('\u0000') || holdsNul(inner));
  if (holdsNul(value)) throw badInput(field, 'must not contain the NUL character');
}
