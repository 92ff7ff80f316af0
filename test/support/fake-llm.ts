/**
 * A local OpenAI-compatible chat-completions server: the outer edge that stands in for a model
 * provider (OpenAI, vLLM, Ollama...). It streams `chat.completion.chunk` SSE as they do, and acts
 * on what the last user message asks for, so that a test (or a gateway process it spawned)
 * steers it through the message text alone:
 *   "status 429" / "status 500"  answer that HTTP error
 *   "hang"                       stream a little, then hold the response open until the client goes
 *   "cut"                        stream a little, then break the connection
 *   "reason"                     stream reasoning before the answer
 *   "tokens N"                   stream N one-word deltas
 *   "tool"                       call the first tool offered (then answer from its result)
 *   "ghost"                      call a tool that was not offered
 *   "badargs"                    call the first tool offered with input its schema refuses
 *   a pillar's word              (when offered the guide's `handoff` tool) hand off to that pillar
 *   "compare"                    (likewise) have CONTENT and INSIGHTS collaborate
 * Anything else: a short greeting. Every answer ends with a usage chunk.
 */
import type { ServerResponse } from 'node:http';
import { startRecordingServer, tick, type RecordedRequest } from './recording-server.ts';

export interface ChatBody {
  model: string;
  messages: { role: string; content: unknown; tool_call_id?: string }[];
  tools?: { function: { name: string } }[];
}

export type ChatRequest = RecordedRequest<ChatBody>;

export interface FakeLlm {
  /** The base URL, as LLM_BASE_URL takes it (.../v1). */
  url: string;
  requests: ChatRequest[];
  /** Resolves with the next request whose client goes away before its response ended. */
  nextAbort(): Promise<ChatRequest>;
  close(): Promise<void>;
}

type Chunk = { content?: string; reasoning_content?: string; tool_calls?: unknown[] };

const USAGE = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };

export async function startFakeLlm(): Promise<FakeLlm> {
  const server = await startRecordingServer(respond);
  return { ...server, url: `${server.origin}/v1` };
}

async function respond(body: ChatBody, response: ServerResponse): Promise<void> {
  const last = body.messages.at(-1);
  const userText = String([...body.messages].reverse().find((message) => message.role === 'user')?.content ?? '');
  const offered = (body.tools ?? []).map((tool) => tool.function.name);
  const status = /\bstatus (\d{3})\b/.exec(userText);
  if (status && last?.role === 'user') {
    // retry-after-ms 0: the SDK retries at once instead of backing off for seconds.
    response.writeHead(Number(status[1]), { 'content-type': 'application/json', 'retry-after-ms': '0' });
    response.end(JSON.stringify({ error: { message: `status ${status[1]} as asked`, type: 'test' } }));
    return;
  }
  const stream = sse(response, body.model);
  if (last?.role === 'tool') {
    await stream.send(words(`I used the tool and found ${String(last.content).length} characters of results.`));
    return stream.end('stop', true);
  }
  if (/\bhang\b/.test(userText)) {
    await stream.send(words('Let me think about that'));
    return; // held open until the client goes away
  }
  if (/\bcut\b/.test(userText)) {
    await stream.send(words('This answer will be'));
    response.socket?.destroy();
    return;
  }
  if (offered.includes('handoff')) {
    const pillar = /\bcompare\b/.test(userText) ? null : /\b(data|trends?|csv|insights?)\b/i.test(userText) ? 'INSIGHTS' : null;
    if (/\bcompare\b/.test(userText)) {
      await stream.send([toolCall('call_route', 'collaborate', { pillars: ['CONTENT', 'INSIGHTS'], reason: 'A comparison.' })]);
      return stream.end('tool_calls', true);
    }
    if (pillar) {
      await stream.send([toolCall('call_route', 'handoff', { pillar, reason: 'The message is about data.' })]);
      return stream.end('tool_calls', true);
    }
  }
  if (/\bghost\b/.test(userText)) {
    await stream.send([toolCall('call_1', 'no_such_tool', {})]);
    return stream.end('tool_calls', true);
  }
  if (/\bbadargs\b/.test(userText) && offered[0]) {
    await stream.send([toolCall('call_1', offered[0], { name: 42 })]);
    return stream.end('tool_calls', true);
  }
  if (/\btool\b/.test(userText) && offered[0]) {
    await stream.send([toolCall('call_1', offered[0], { name: 'message' })]);
    return stream.end('tool_calls', true);
  }
  if (/\breason\b/.test(userText)) await stream.send([{ reasoning_content: 'The user wants ' }, { reasoning_content: 'a reasoned answer.' }]);
  const count = /\btokens (\d+)\b/.exec(userText);
  const deltas = count ? Array.from({ length: Number(count[1]) }, (_, index) => ({ content: `t${index} ` })) : words('Hello from the model.');
  await stream.send(deltas);
  stream.end('stop', true);
}

const words = (text: string): Chunk[] => (text.match(/\S+\s*/g) ?? []).map((content) => ({ content }));

const toolCall = (id: string, name: string, args: unknown): Chunk => ({
  tool_calls: [{ index: 0, id, type: 'function', function: { name, arguments: JSON.stringify(args) } }],
});

function sse(response: ServerResponse, model: string) {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model };
  const write = (payload: unknown) => response.write(`data: ${JSON.stringify(payload)}\n\n`);
  return {
    /** Writes each chunk as its own SSE event, yielding between them as a real stream would. */
    async send(chunks: Chunk[]) {
      for (const delta of chunks) {
        if (response.destroyed) return;
        write({ ...base, choices: [{ index: 0, delta: { role: 'assistant', ...delta }, finish_reason: null }] });
        await tick();
      }
    },
    end(finishReason: string, usage: boolean) {
      write({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finishReason }] });
      if (usage) write({ ...base, choices: [], usage: USAGE });
      response.end('data: [DONE]\n\n');
    },
  };
}
