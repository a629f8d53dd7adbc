import type { ServerResponse } from 'node:http';
import { answer } from './answer.ts';
import { describeError, log } from './log.ts';

export interface Asset {
  readonly type: string;
  readonly body: () => string | Buffer | Promise<string | Buffer>;
}

export const JAVASCRIPT = 'text/javascript; charset=utf-8';
export const CSS = 'text/css; charset=utf-8';

/** A page's Content-Security-Policy: this origin only, no inline script, nothing framed or posted. */
export function contentSecurityPolicy(extra: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    ...extra,
  ].join('; ');
}

/**
 * Serves the assets of a page under `prefix`, a path that names their version: each is made on
 * its first request and then kept, and browsers may keep it for good.
 * Returns false for a path that is not one of them.
 */
export function staticAssets(prefix: string, assets: ReadonlyMap<string, Asset>, headers: Readonly<Record<string, string>>) {
  const made = new Map<string, Promise<Buffer>>();
  return (path: string, response: ServerResponse): boolean => {
    const name = path.startsWith(`${prefix}/`) ? path.slice(prefix.length + 1) : undefined;
    const asset = name === undefined ? undefined : assets.get(name);
    if (!asset) return false;
    let body = made.get(name!);
    // The executor catches a body that throws as it is made, as well as one that rejects.
    if (!body) made.set(name!, (body = new Promise<string | Buffer>((resolve) => resolve(asset.body())).then((made) => Buffer.from(made))));
    body.then(
      (bytes) => {
        response.writeHead(200, {
          ...headers,
          'content-type': asset.type,
          'content-length': bytes.length,
          'cache-control': 'public, max-age=31536000, immutable',
          'x-content-type-options': 'nosniff',
        });
        response.end(bytes);
      },
      (error: unknown) => {
        made.delete(name!);
        log('error', 'an asset could not be made', { asset: path, ...describeError(error) });
        answer(response, 500, 'text/plain', 'this asset could not be made\n');
      },
    );
    return true;
  };
}
