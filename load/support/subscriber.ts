import WebSocket from 'ws';

export interface RawSubscriber {
  readonly socket: WebSocket;
  /** Resolves when the subscription has sent its caught-up marker. */
  readonly ready: Promise<void>;
}

const FIELD = (name: string) => new RegExp(`"${name}":"([^"]*)"`);
const AGGREGATE_ID = FIELD('aggregateId');
const CREATED_AT = FIELD('createdAt');

/**
 * A graphql-transport-ws subscriber on a bare socket. A thousand of them share this process's
 * core with nothing else to spare, so the hot path reads the two fields it needs from the
 * text instead of parsing every message: otherwise the benchmark measures its own queue.
 */
export function subscribe(
  wsUrl: string,
  key: string,
  query: string,
  onEvent: (event: { aggregateId: string; createdAt: string }, receivedAt: number) => void,
): RawSubscriber {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { skipUTF8Validation: true, perMessageDeflate: false });
  const ready = new Promise<void>((done, fail) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } })));
    socket.on('message', (raw) => {
      const receivedAt = Date.now();
      const text = String(raw);
      const aggregateId = AGGREGATE_ID.exec(text)?.[1];
      if (aggregateId) {
        onEvent({ aggregateId, createdAt: CREATED_AT.exec(text)![1]! }, receivedAt);
        return;
      }
      const message = JSON.parse(text);
      if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
      else if (message.type === 'next' && message.payload.data?.events) done();
      else if (message.type === 'error' || message.payload?.errors) fail(new Error(text));
    });
    socket.on('error', fail);
  });
  return { socket, ready };
}
