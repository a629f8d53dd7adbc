import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import WebSocket from 'ws';

/** A graphql-ws client of the server at `httpUrl`, authenticated with `credential`, that does not retry. */
export function wsClient(httpUrl: string, credential: string, options: Partial<ClientOptions> = {}): Client {
  return createClient({
    url: httpUrl.replace('http', 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${credential}` },
    retryAttempts: 0,
    ...options,
  });
}
