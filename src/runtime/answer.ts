import type { ServerResponse } from 'node:http';

/** A whole answer written outside Yoga (health, metrics, refused bodies): never cached, never sniffed. */
export function answer(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  response.end(body);
}
