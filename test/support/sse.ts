/** GraphQL subscriptions over SSE (GraphQL over SSE, "distinct connections" mode) with fetch. */

export interface SseMessage {
  event: string;
  data: string;
  /** The message's `id` field, when it has one. */
  id?: string;
}

/** Parses a text/event-stream body into its messages, as they arrive. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let id: string | undefined;
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue; // comment / keep-alive
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
          else if (field === 'id') id = value;
        }
        if (data.length > 0 || event !== 'message') yield { event, data: data.join('\n'), ...(id !== undefined && { id }) };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

export interface SseSubscription<T> {
  response: Response;
  /** Each `next` payload (a GraphQL execution result), until the stream completes. */
  results: AsyncGenerator<{ data?: T | null; errors?: { message: string; extensions?: Record<string, any> }[] }>;
  /** Ends the subscription (aborts the request). */
  close(): void;
}

export async function subscribeSse<T = any>(
  baseUrl: string,
  token: string | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<SseSubscription<T>> {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: {
      accept: 'text/event-stream',
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  if (!response.body) throw new Error(`no body (status ${response.status})`);
  const body = response.body;
  async function* results() {
    for await (const message of readSse(body)) {
      if (message.event === 'complete') return;
      if (message.event === 'next' || message.event === 'message') yield JSON.parse(message.data);
    }
  }
  return {
    response,
    results: results(),
    close: () => controller.abort(),
  };
}
