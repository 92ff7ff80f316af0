/**
 * The AI SDK endpoint (`useChat` with its DefaultChatTransport): `POST /ai-sdk/chat` takes what
 * the transport posts (`{id, messages, trigger, messageId, ...body}`) and answers the run as the
 * AI SDK's UI message stream (ai-sdk-chunks.ts), over the same planes as GraphQL:
 * - `id` is the conversation. When the last message is the user's, it is the new message and its
 *   id the idempotency key: the same body posted again starts nothing and streams that run again.
 *   The body may carry `agentId`, `surface`, `projectId`, `context` and `onActiveRun`, as the
 *   GraphQL send takes them; the message's text files are attached files (`context.files`).
 * - Each run is one assistant message whose id is the run's. When the last message is that
 *   assistant message, the post answers the run's requests and streams the run on from its pause:
 *   an approval is answered by its tool part's `approval` (state approval-responded), a client
 *   tool by its tool part's output, anything (a question too) by `answers`, a list of what
 *   `respondToAgent` takes. Parts the client sends again with the whole chat answer nothing twice.
 * - A stream ends when its run ends or pauses on a person (run-until-pause.ts).
 * - `GET /ai-sdk/chat/{id}/stream` (where the transport's `resume` reconnects) streams the chat's
 *   active run from its start, which is what the AI SDK expects of a resumed stream; 204 when no
 *   run is active, also for a chat that is not the viewer's, so nothing is learned of it.
 * Errors before the stream starts are HTTP statuses with the contract's code (plain-http.ts);
 * once it has started, an `error` chunk whose text starts with the code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UI_MESSAGE_STREAM_HEADERS, isToolUIPart, safeValidateUIMessages, type UIMessage, type UIMessageChunk } from 'ai';
import { z } from 'zod';
import { SURFACES, type AttachedFile } from '../../domain/product.ts';
import type { InputRequestRecord, RunRecord } from '../../domain/records.ts';
import { badInput, notFound } from '../../errors.ts';
import type { Principal } from '../../experience/auth.ts';
import type { AnswerInput } from '../../experience/input-answers.ts';
import { ACTIVE_RUN_POLICIES } from '../../experience/validation.ts';
import type { Gateway } from '../../gateway.ts';
import { AiSdkTranslator } from './ai-sdk-chunks.ts';
import { answerError, authenticate, readJson, streamError } from './plain-http.ts';
import { RunUntilPause } from './run-until-pause.ts';

const CHAT_PATH = /^\/ai-sdk\/chat\/?$/;
const RESUME_PATH = /^\/ai-sdk\/chat\/([^/]+)\/stream\/?$/;
/** The label of this protocol's streams in the metrics. */
const PROTOCOL = 'ai-sdk';
/** How the AI SDK's stream ends, after its last chunk. */
const STREAM_END = 'data: [DONE]\n\n';
/** Attached files are text: anything that is not UTF-8 is refused rather than garbled. */
const TEXT = new TextDecoder('utf-8', { fatal: true });
/** Events read at a time when looking for where a continued run goes on. */
const READ_PAGE = 100;

/** The body DefaultChatTransport posts, with the fields a frontend may add through its `body` option. */
const ChatRequest = z.object({
  id: z.string(),
  /** Checked by the AI SDK's own validateUIMessages. */
  messages: z.array(z.unknown()),
  agentId: z.string().nullish(),
  surface: z.enum(SURFACES).nullish(),
  projectId: z.string().nullish(),
  context: z.unknown().optional(),
  onActiveRun: z.enum(ACTIVE_RUN_POLICIES).nullish(),
  answers: z
    .array(z.object({ requestId: z.string(), approved: z.boolean().nullish(), answer: z.unknown().optional(), comment: z.string().nullish() }))
    .nullish(),
});
type ChatRequest = Omit<z.infer<typeof ChatRequest>, 'messages'> & { messages: UIMessage[] };

/** Answers the request when it is for the AI SDK endpoint; false otherwise. */
export function createAiSdkEndpoint(gateway: Gateway) {
  return async function serveAiSdk(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> {
    const resume = RESUME_PATH.exec(path);
    if (!resume && !CHAT_PATH.test(path)) return false;
    try {
      if (resume) {
        if (request.method !== 'GET') throw badInput("GET this path to resume a chat's stream.");
        const principal = await authenticate(gateway, request);
        const run = await activeRunOf(gateway, principal, chatIdOf(resume[1]!));
        if (!run) {
          response.writeHead(204).end();
          return true;
        }
        await streamRun(gateway, principal, run, await gateway.conversations.runStart(run), response);
        return true;
      }
      if (request.method !== 'POST') throw badInput('POST a chat request here.');
      const principal = await authenticate(gateway, request);
      const body = await parsedBody(await readJson(request));
      const { run, afterSeq } =
        body.messages.at(-1)!.role === 'assistant' ? await continueRun(gateway, principal, body) : await startRun(gateway, principal, body);
      await streamRun(gateway, principal, run, afterSeq, response);
    } catch (error) {
      answerError(response, error, gateway.logger);
    }
    return true;
  };
}

async function parsedBody(body: unknown): Promise<ChatRequest> {
  const parsed = ChatRequest.safeParse(body);
  if (!parsed.success) throw badInput(`Not a chat request: ${problemsOf(parsed.error.issues)}`);
  const messages = await safeValidateUIMessages({ messages: parsed.data.messages });
  if (!messages.success) {
    const { cause } = messages.error;
    throw badInput(`Not a list of UI messages: ${cause instanceof z.ZodError ? problemsOf(cause.issues, 'messages') : messages.error.message}`, 'messages');
  }
  return { ...parsed.data, messages: messages.data };
}

function problemsOf(issues: readonly z.core.$ZodIssue[], under?: string): string {
  return issues
    .slice(0, 5)
    .map((issue) => `${[...(under ? [under] : []), ...issue.path].join('.') || '(body)'}: ${issue.message}`)
    .join('; ');
}

function chatIdOf(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badInput('The chat id in the path is not valid percent-encoding.', 'id');
  }
}

/** The chat's active run, or null when it has none or is not the viewer's. */
async function activeRunOf(gateway: Gateway, principal: Principal, chatId: string): Promise<RunRecord | null> {
  const { conversations } = gateway;
  if (!(await conversations.conversation(principal, chatId))) return null;
  return conversations.activeRun(chatId);
}

/** Sends the user's last message (idempotently, by its id) and answers with its run, from its start. */
async function startRun(gateway: Gateway, principal: Principal, body: ChatRequest) {
  const last = body.messages.at(-1)!;
  if (last.role !== 'user') throw badInput("The last message must be the user's new message, or the assistant's with answers.", 'messages');
  const files = await filesOf(last);
  const sent = await gateway.conversations.send(principal, {
    text: last.parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n'),
    conversationId: body.id,
    clientMessageId: last.id,
    ...(body.agentId != null && { target: { kind: 'GUIDE', agentId: body.agentId } }),
    surface: body.surface ?? null,
    onActiveRun: body.onActiveRun ?? null,
    projectId: body.projectId ?? null,
    context: withFiles(body.context ?? null, files),
  });
  return { run: sent.run, afterSeq: sent.afterSeq };
}

/**
 * The message's file parts as attached files (`context.files`): what useChat's
 * `sendMessage({text, files})` sends, each file's content in a data: URL. Agents read text;
 * anything else, and a file behind a URL the gateway would have to fetch, is refused.
 */
async function filesOf(message: UIMessage): Promise<AttachedFile[]> {
  const files: AttachedFile[] = [];
  for (const part of message.parts) {
    if (part.type !== 'file') continue;
    const name = part.filename ?? 'attachment';
    if (!part.url.startsWith('data:')) throw badInput(`File ${name} must come as a data: URL.`, 'messages');
    let content: string;
    try {
      // fetch decodes a data: URL (base64 or not) in place, without any request.
      content = TEXT.decode(await (await fetch(part.url)).arrayBuffer());
    } catch {
      throw badInput(`File ${name} is not text in a data: URL: attach text files (CSV, JSON, plain text…).`, 'messages');
    }
    files.push({ name, content });
  }
  return files;
}

/** `files` added to the context's own; a context that is not an object is left for the send to refuse. */
function withFiles(context: unknown, files: readonly AttachedFile[]): unknown {
  if (files.length === 0 || (context !== null && (typeof context !== 'object' || Array.isArray(context)))) return context;
  const given = (context ?? {}) as Record<string, unknown>;
  const existing = given['files'];
  return { ...given, files: existing === undefined ? files : Array.isArray(existing) ? [...existing, ...files] : existing };
}

/**
 * Answers the requests of the run the last (assistant) message shows, and answers with that run
 * from the pause the client saw last: just before the first answer that follows the latest
 * request answered here, whether this post or an identical earlier one gave the answers.
 */
async function continueRun(gateway: Gateway, principal: Principal, body: ChatRequest) {
  const { conversations } = gateway;
  const last = body.messages.at(-1)!;
  if (!(await conversations.conversation(principal, body.id))) throw notFound('Conversation');
  const run = await conversations.run(principal, last.id);
  if (!run || run.conversationId !== body.id) throw notFound('Run');
  const events = await conversations.runEventsThrough(run, await conversations.lastSeq(run.conversationId));
  const asked = new Map<string, { request: InputRequestRecord; seq: number }>();
  const answered = new Set<string>();
  for (const event of events) {
    if (event.type === 'AgentInputRequested') asked.set(event.request.id, { request: event.request, seq: event.seq });
    if (event.type === 'AgentInputReceived') answered.add(event.requestId);
  }
  const fromParts = answersInParts(
    last,
    [...asked.values()].map(({ request }) => request),
  );
  const answers = [...fromParts, ...(body.answers ?? [])];
  if (answers.length === 0) {
    throw badInput("The assistant's message answers nothing: give a tool approval, a client tool's output, or answers.", 'messages');
  }
  let latestAsked = 0;
  for (const answer of answers) {
    const found = asked.get(answer.requestId);
    if (!found) throw notFound('Input request');
    latestAsked = Math.max(latestAsked, found.seq);
    // The client sends the whole chat each time: a part already answered is not an answer again.
    if (fromParts.includes(answer) && answered.has(answer.requestId)) continue;
    await conversations.respond(principal, answer);
  }
  return { run, afterSeq: await seqBeforeFirstAnswer(gateway, run, latestAsked) };
}

/** The answers the assistant message's tool parts give: approvals responded to, client tools' outputs. */
function answersInParts(message: UIMessage, requests: readonly InputRequestRecord[]): AnswerInput[] {
  const answers: AnswerInput[] = [];
  for (const part of message.parts) {
    if (!isToolUIPart(part)) continue;
    if (part.state === 'approval-responded') {
      answers.push({ requestId: part.approval.id, approved: part.approval.approved, comment: part.approval.reason ?? null });
      continue;
    }
    if (part.state !== 'output-available' && part.state !== 'output-error') continue;
    const request = requests.find((candidate) => candidate.kind === 'CLIENT_TOOL' && candidate.toolCallId === part.toolCallId);
    // The contract's client tool answers with its result: a client's error is that result.
    if (request) answers.push({ requestId: request.id, answer: part.state === 'output-available' ? part.output : { error: part.errorText } });
  }
  return answers;
}

/** The seq just before the run's first answer after `askedSeq` (the run waited from then until that answer). */
async function seqBeforeFirstAnswer(gateway: Gateway, run: RunRecord, askedSeq: number): Promise<number> {
  const { conversations } = gateway;
  for (let after = askedSeq; ;) {
    const page = await conversations.events(run.conversationId, after, READ_PAGE);
    const answer = page.find((event) => event.runId === run.id && event.type === 'AgentInputReceived');
    if (answer) return answer.seq - 1;
    if (page.length < READ_PAGE) return after;
    after = page.at(-1)!.seq;
  }
}

/**
 * Writes the run's events after `afterSeq` as a UI message stream, until the run ends or pauses.
 * The chunks are written as the ai package's JsonToSseTransformStream writes them, with its
 * headers, but straight to the response: through its web streams (pipeUIMessageStreamToResponse)
 * the gateway spent twice the CPU per event (bench/protocols.ts).
 */
async function streamRun(gateway: Gateway, principal: Principal, run: RunRecord, afterSeq: number, response: ServerResponse): Promise<void> {
  const events = await RunUntilPause.open(gateway, principal, run, afterSeq, PROTOCOL);
  const translator = new AiSdkTranslator(run.id);
  // What the client already has of the run: the calls it was shown, the questions it was asked.
  for (const event of events.earlier) translator.translate(event);
  const write = (chunks: readonly UIMessageChunk[]) => {
    if (chunks.length === 0 || response.destroyed) return;
    let frames = '';
    for (const chunk of chunks) frames += `data: ${JSON.stringify(chunk)}\n\n`;
    response.write(frames);
    // A client that reads too slowly is cut off rather than buffered without bound: its
    // connection breaks, so that it sees a failed stream rather than a message ended short,
    // and resumes.
    if (response.writableLength > gateway.config.WS_MAX_BUFFERED_BYTES) {
      response.destroy();
      events.stop();
    }
  };
  response.writeHead(200, UI_MESSAGE_STREAM_HEADERS);
  write(translator.opening());
  response.on('close', () => events.stop());
  events.start({
    event: (event) => write(translator.translate(event)),
    paused: (pending) => write(translator.paused(pending)),
    failed: (error) => {
      const { code, message } = streamError(error, gateway.logger, PROTOCOL);
      write([{ type: 'error', errorText: `${code}: ${message}` }]);
    },
    ended: () => {
      if (!response.destroyed) response.end(STREAM_END);
    },
  });
}
