/**
 * The AG-UI endpoint (CopilotKit, `@ag-ui/client`'s HttpAgent): `POST /ag-ui` routes the message
 * as the GraphQL send does, `POST /ag-ui/{agentId}` sends it to that agent. A `RunAgentInput`
 * in, the run's events out as an AG-UI event stream (ag-ui-events.ts), over the same planes
 * as GraphQL:
 * - `threadId` is the conversation; the last message, a user's, is the new message, and its
 *   `id` the idempotency key: the same input posted again starts nothing and streams that run
 *   again, from the seq after `Last-Event-ID` when given. `forwardedProps` may carry `surface`,
 *   `projectId`, `context` and `onActiveRun`, as the GraphQL send takes them.
 * - Every SSE event carries `id: <seq>`. One of our events may become several AG-UI events; only
 *   the last of them carries the id, so that a client's Last-Event-ID never passes an event it
 *   received in part.
 * - A run that asks a person ends its stream with RUN_FINISHED and an interrupt outcome, one
 *   interrupt per open request (its id is the request's). `resume` answers them: APPROVAL takes
 *   `true`/`false` or `{approved, comment}`, QUESTION and CLIENT_TOOL the answer itself; a
 *   cancelled entry denies an approval and cancels the run otherwise. The run's stream then goes
 *   on from where it paused.
 * - `tools` are the frontend's: offered to the agent for this run, a call of one is a CLIENT_TOOL
 *   request, shown as a tool call; its result comes back as a tool message of that call's id (or
 *   as a resume entry of the interrupt).
 * Errors before the stream starts are HTTP statuses with the contract's code (plain-http.ts);
 * once it has started, RUN_ERROR with the code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventEncoder } from '@ag-ui/encoder';
import { RunAgentInputSchema } from '@ag-ui/core/schemas';
import type { Message, ResumeEntry, RunAgentInput } from '@ag-ui/core';
import { SURFACES, type Surface } from '../../domain/product.ts';
import type { StoredEvent } from '../../domain/events.ts';
import type { InputRequestRecord, RunRecord } from '../../domain/records.ts';
import { GatewayError, badInput, notFound } from '../../errors.ts';
import type { Principal } from '../../experience/auth.ts';
import { ACTIVE_RUN_POLICIES, type ActiveRunPolicy } from '../../experience/validation.ts';
import type { Gateway } from '../../gateway.ts';
import { AgUiTranslator } from './ag-ui-events.ts';
import { answerError, authenticate, lastEventId, readJson, streamError } from './plain-http.ts';
import { RunUntilPause, type RunOutput } from './run-until-pause.ts';
import { inRequestSpan } from '../graphql/operation-spans.ts';
import type { TraceContext } from '../../tracing/spans.ts';

const PATH = /^\/ag-ui(?:\/([^/]+))?\/?$/;
/** The label of this protocol's streams in the metrics. */
const PROTOCOL = 'ag-ui';

/** Answers the request when it is for the AG-UI endpoint; false otherwise. */
export function createAgUiEndpoint(gateway: Gateway) {
  return async function serveAgUi(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> {
    const match = PATH.exec(path);
    if (!match) return false;
    if (request.method !== 'POST') {
      answerError(response, new GatewayError('BAD_USER_INPUT', 'POST a RunAgentInput here.'), gateway.logger);
      return true;
    }
    try {
      const principal = await authenticate(gateway, request);
      const input = parsedInput(await readJson(request));
      const resumeFrom = lastEventId(request);
      const answers = [...(input.resume ?? []), ...(await clientToolResults(gateway, principal, input))];
      // The send (or the answers) in a span continuing the client's traceparent; not the stream, which lasts the run.
      const { run, afterSeq } = await inRequestSpan('POST /ag-ui', request.headers, (within) =>
        answers.length
          ? resumeRun(gateway, principal, input.threadId, answers, resumeFrom, within)
          : startRun(gateway, principal, input, match[1] ? decodeURIComponent(match[1]) : null, resumeFrom, within),
      );
      await new RunStream(gateway, principal, run, request, response).start(afterSeq);
    } catch (error) {
      answerError(response, error, gateway.logger);
    }
    return true;
  };
}

function parsedInput(body: unknown): RunAgentInput {
  const parsed = RunAgentInputSchema.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`);
    throw badInput(`Not a RunAgentInput: ${problems.join('; ')}`);
  }
  return parsed.data as RunAgentInput;
}

/** Sends the input's last message (idempotently, by its id) and answers with its run. */
async function startRun(gateway: Gateway, principal: Principal, input: RunAgentInput, agentId: string | null, resumeFrom: number | null, where: TraceContext) {
  const last = input.messages.at(-1);
  if (!last || last.role !== 'user') throw badInput("The last message must be the user's new message.", 'messages');
  const props = (input.forwardedProps ?? {}) as Record<string, unknown>;
  const sent = await gateway.conversations.send(
    principal,
    {
      text: textOf(last),
      conversationId: input.threadId,
      clientMessageId: last.id,
      ...(agentId !== null && { target: { kind: 'GUIDE', agentId } }),
      surface: oneOf(props['surface'], SURFACES, 'forwardedProps.surface') as Surface | null,
      onActiveRun: oneOf(props['onActiveRun'], ACTIVE_RUN_POLICIES, 'forwardedProps.onActiveRun') as ActiveRunPolicy | null,
      projectId: typeof props['projectId'] === 'string' ? props['projectId'] : null,
      context: props['context'] ?? null,
      clientTools: input.tools.map((tool) => ({
        name: tool.name,
        description: tool.description,
        inputSchema: (tool.parameters as Record<string, unknown> | undefined) ?? { type: 'object', properties: {} },
      })),
    },
    where,
  );
  return { run: sent.run, afterSeq: Math.max(resumeFrom ?? sent.afterSeq, sent.afterSeq) };
}

/**
 * The results of client tools the input carries as tool messages (how AG-UI frontends answer
 * their tools' calls), for the run's open CLIENT_TOOL requests: each answers its request as a
 * resume entry would.
 */
async function clientToolResults(gateway: Gateway, principal: Principal, input: RunAgentInput): Promise<ResumeEntry[]> {
  const results = input.messages.filter((message): message is Extract<Message, { role: 'tool' }> => message.role === 'tool');
  if (results.length === 0 || !(await gateway.conversations.conversation(principal, input.threadId))) return [];
  const pending = await gateway.conversations.pendingInputs(input.threadId);
  const entries: ResumeEntry[] = [];
  for (const request of pending) {
    const result = request.kind === 'CLIENT_TOOL' && results.find((message) => message.toolCallId === request.toolCallId);
    if (result) entries.push({ interruptId: request.id, status: 'resolved', payload: parsedContent(result.content) });
  }
  return entries;
}

function parsedContent(content: unknown): unknown {
  if (typeof content !== 'string') return content;
  try {
    return JSON.parse(content);
  } catch {
    return content;
  }
}

function textOf(message: Message): string {
  const { content } = message as { content?: unknown };
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .filter((part): part is { type: 'text'; text: string } => part?.type === 'text' && typeof part.text === 'string')
      .map((part) => part.text)
      .join('\n');
  }
  return '';
}

function oneOf(value: unknown, allowed: readonly string[], field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' && allowed.includes(value)) return value;
  throw badInput(`${field} must be one of ${allowed.join(', ')}.`, field);
}

/** Answers the run's interrupts; its stream goes on from where it paused (or after `resumeFrom`). */
async function resumeRun(
  gateway: Gateway,
  principal: Principal,
  threadId: string,
  entries: readonly ResumeEntry[],
  resumeFrom: number | null,
  where: TraceContext,
) {
  const { conversations } = gateway;
  if (!(await conversations.conversation(principal, threadId))) throw notFound('Conversation');
  const requests: InputRequestRecord[] = [];
  for (const entry of entries) {
    const request = await conversations.inputRequest(principal, entry.interruptId);
    if (!request || request.conversationId !== threadId) throw notFound('Interrupt');
    requests.push(request);
  }
  const runId = requests[0]!.runId;
  if (requests.some((request) => request.runId !== runId)) throw badInput('resume answers the interrupts of one run.', 'resume');
  // Nothing of the run comes between its pause and these answers: the stream goes on from here.
  const pausedAt = await conversations.lastSeq(threadId);
  for (const [index, entry] of entries.entries()) {
    const request = requests[index]!;
    if (entry.status === 'cancelled' && request.kind !== 'APPROVAL') {
      await conversations.cancel(principal, runId);
      break;
    }
    await conversations.respond(principal, { requestId: request.id, ...answerOf(request, entry) }, where);
  }
  const run = await conversations.run(principal, runId);
  if (!run) throw notFound('Run');
  return { run, afterSeq: resumeFrom ?? pausedAt };
}

function answerOf(request: InputRequestRecord, entry: ResumeEntry): { approved?: boolean; answer?: unknown; comment?: string } {
  if (request.kind !== 'APPROVAL') return { answer: entry.payload ?? null };
  if (entry.status === 'cancelled') return { approved: false, comment: 'Cancelled.' };
  const payload = entry.payload as unknown;
  if (typeof payload === 'boolean') return { approved: payload };
  const { approved, comment } = (payload ?? {}) as { approved?: unknown; comment?: unknown };
  if (typeof approved !== 'boolean') throw badInput('An approval is resumed with true, false or {approved, comment}.', 'resume.payload');
  return { approved, ...(typeof comment === 'string' && { comment }) };
}

/** One run's events from after a seq (run-until-pause.ts), written to one response as AG-UI events. */
class RunStream implements RunOutput {
  private readonly encoder: EventEncoder;
  private readonly binary: boolean;
  private readonly translator: AgUiTranslator;
  private events: RunUntilPause | null = null;
  private lastSeq = 0;

  constructor(
    private readonly gateway: Gateway,
    private readonly principal: Principal,
    private readonly run: RunRecord,
    request: IncomingMessage,
    private readonly response: ServerResponse,
  ) {
    this.encoder = new EventEncoder({ accept: request.headers.accept ?? '' });
    this.binary = this.encoder.getContentType() !== 'text/event-stream';
    this.translator = new AgUiTranslator(run.conversationId, run.id);
  }

  async start(afterSeq: number): Promise<void> {
    const events = await RunUntilPause.open(this.gateway, this.principal, this.run, afterSeq, PROTOCOL);
    this.events = events;
    // What the client already has of the run, so that the stream re-opens what is still open.
    for (const event of events.earlier) this.translator.translate(event);
    this.response.writeHead(200, { 'content-type': this.encoder.getContentType(), 'cache-control': 'no-cache', connection: 'keep-alive' });
    this.lastSeq = afterSeq;
    this.write(this.translator.opening(), afterSeq);
    this.response.on('close', () => events.stop());
    events.start(this);
  }

  event(event: StoredEvent): void {
    this.lastSeq = event.seq;
    this.write(this.translator.translate(event), event.seq);
  }

  paused(pending: readonly InputRequestRecord[]): void {
    this.write(this.translator.interrupted(pending), this.lastSeq);
  }

  failed(error: unknown): void {
    const { code, message } = streamError(error, this.gateway.logger, PROTOCOL);
    this.write([{ type: 'RUN_ERROR', message, code } as never], this.lastSeq);
  }

  ended(): void {
    this.response.end();
  }

  private write(events: ReturnType<AgUiTranslator['translate']>, seq: number): void {
    if (events.length === 0 || this.response.writableEnded) return;
    const { response, encoder } = this;
    if (this.binary) {
      for (const event of events) response.write(encoder.encodeBinary(event));
    } else {
      let frames = '';
      for (let index = 0; index < events.length; index += 1) {
        if (index === events.length - 1) frames += `id: ${seq}\n`;
        frames += encoder.encodeSSE(events[index]!);
      }
      response.write(frames);
    }
    // A client that reads too slowly is cut off rather than buffered without bound: it resumes
    // with Last-Event-ID.
    if (response.writableLength > this.gateway.config.WS_MAX_BUFFERED_BYTES) this.events?.stop();
  }
}
