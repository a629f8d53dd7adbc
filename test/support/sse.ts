/** A plain Server-Sent Events reader over fetch, as a browser's fetch-based client would read. */
export async function* sse(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
  signal?: AbortSignal,
): AsyncGenerator<{ event: string; data: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  if (!response.ok || !response.body) {
    yield { event: 'http-error', data: { status: response.status, body: await response.text() } };
    return;
  }
  for await (const { event, data } of sseEvents(response.body)) {
    if (data !== undefined) yield { event, data: data ? JSON.parse(data) : null };
    if (event === 'complete') return;
  }
}

/** The events of a Server-Sent Events body: each one's id, type (`message` when it names none) and data line. */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ id?: string; event: string; data?: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      yield {
        id: /^id: (.*)$/m.exec(block)?.[1],
        event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message',
        data: /^data: (.*)$/m.exec(block)?.[1],
      };
    }
  }
}
