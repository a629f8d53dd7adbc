import { context, trace } from '@opentelemetry/api';

/**
 * The trace and span a line is written in, while that span is open and exported (a timer a
 * request left behind is not part of it).
 */
function traceFields(): { traceId?: string; spanId?: string } {
  const span = trace.getSpan(context.active());
  if (!span?.isRecording()) return {};
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}

// One JSON object per line on stderr: what log shippers expect, and stdout stays for output.
// The line's own fields come first and cannot be replaced by `fields`.
export function log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void {
  const own = { time: new Date().toISOString(), level, message, ...traceFields() };
  process.stderr.write(`${JSON.stringify(Object.assign({ ...own }, fields, own))}\n`);
}

export function describeError(error: unknown): Record<string, unknown> {
  return error instanceof Error ? { error: error.message, stack: error.stack } : { error: String(error) };
}

/** LOG_REQUESTS: a line per request, with the id its response and its events carry. */
export function logRequest(fields: {
  requestId: string | undefined;
  operation: string;
  status: number;
  durationMs: number;
  cache?: string;
}): void {
  log('info', 'request', { ...fields, durationMs: Math.round(fields.durationMs * 10) / 10 });
}
