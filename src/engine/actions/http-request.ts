import { fetch, type Response } from 'undici';
import { z } from 'zod';
import { ActionError } from './action-error.ts';
import { defineAction } from './action.ts';

/** Responses larger than this fail the step rather than fill the execution's data. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

const input = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
    headers: z.record(z.string(), z.string()).default({}),
    body: z.unknown().optional(),
  })
  .strict();

/** Header names in lower case, so that the definition's own replace ours whatever their case. */
const lowerCased = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));

async function readBody(response: Response): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_RESPONSE_BYTES) throw new ActionError('ResponseTooLarge', `the response declares ${declared} bytes`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.byteLength;
    if (size > MAX_RESPONSE_BYTES) throw new ActionError('ResponseTooLarge', `the response is over ${MAX_RESPONSE_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Calls an HTTP endpoint through its host's circuit breaker. A 5xx or a network failure
 * counts against the breaker and fails the step with HttpError or NetworkError; a 4xx fails
 * the step (HttpError) without counting, as the host itself is working. Every call carries
 * `Idempotency-Key`, the same for each attempt of the step, on any process, unless the
 * definition sets its own: a step runs at least once, and a target that keeps the keys it has
 * seen does its work once.
 */
export const httpRequest = defineAction(
  'http.request',
  input,
  async ({ url, method, headers, body }, { signal, cancelled, breakers, outbound, idempotencyKey }) => {
    const target = new URL(url);
    const dispatcher = outbound.dispatcherFor(target);
    const host = target.host;
    const json = body !== undefined && typeof body !== 'string';
    return breakers.call(host, signal, cancelled, async (callSignal) => {
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: { 'idempotency-key': idempotencyKey, ...(json ? { 'content-type': 'application/json' } : {}), ...lowerCased(headers) },
          body: body === undefined ? undefined : json ? JSON.stringify(body) : (body as string),
          signal: callSignal,
          // Not followed: each hop would need the same address checks.
          redirect: 'manual',
          dispatcher,
        });
      } catch (error) {
        if (callSignal.aborted) throw error;
        throw (
          outbound.explain(target, error) ??
          new ActionError('NetworkError', `${method} ${host}: ${(error as Error).cause ?? (error as Error).message}`)
        );
      }
      const text = await readBody(response);
      const type = response.headers.get('content-type') ?? '';
      let parsed: unknown = text;
      if (type.includes('json') && text !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      const result = { status: response.status, headers: Object.fromEntries(response.headers), body: parsed };
      if (response.status >= 500)
        throw Object.assign(new ActionError('HttpError', `${method} ${url} answered ${response.status}`), { countsAsFailure: true });
      if (response.status >= 400) throw new ActionError('HttpError', `${method} ${url} answered ${response.status}`);
      return result;
    });
  },
);
