/**
 * Our events as the AI SDK's UI message chunks, for the AI SDK endpoint (ai-sdk.ts). A translator
 * follows one run, which is one assistant message of the chat: the message's id is the run's id,
 * known before anything else of the run (the agent's message id exists only once it completes),
 * and the same in every stream of the run, so that the stream after a pause goes on with the
 * message the client already shows.
 *
 * The AI SDK brackets text (start … end) where our log has single tokens, so the translator
 * remembers the text that is open; fed the events a client already has, it also knows which
 * tool calls it has shown and which questions it has asked.
 *
 * The mapping, where the AI SDK has no chunk of its own:
 * - a hand-off and an artifact are data parts, `data-handoff` and `data-artifact` (the artifact's
 *   id as the part's, so that a client can find it again);
 * - an approval is the AI SDK's own: the call's input, then `tool-approval-request` whose
 *   `approvalId` is the request's id; a client tool's call is a tool call whose output the
 *   client adds; a question is a `data-question` part (id: the request's), updated in place with
 *   its answer once it has one;
 * - a failure is an `error` chunk whose text starts with our error code ("TIMEOUT: …"), a
 *   cancellation an `abort` chunk, and a pause a `finish` whose metadata says WAITING;
 * - what follows a tool's result is a new step (`translate`).
 */
import type { FinishReason, UIMessageChunk } from 'ai';
import type { StoredEvent } from '../../domain/events.ts';
import type { InputRequestRecord, InputResponse, RunStatus, TokenUsage } from '../../domain/records.ts';

/** What a frontend finds in the assistant message's metadata once a stream of it finishes. */
interface FinishMetadata {
  status: Extract<RunStatus, 'COMPLETED' | 'WAITING'>;
  /** The agent's message, as GraphQL's history shows it (COMPLETED only). */
  agentMessageId?: string;
  usage?: TokenUsage;
}

/** The chunks that end a stream: no step starts before them. */
const ENDING_CHUNKS: ReadonlySet<UIMessageChunk['type']> = new Set(['finish', 'error', 'abort']);

export class AiSdkTranslator {
  /** The text part open since its first token, if any. */
  private openTextId: string | null = null;
  /** Calls whose input the client has: a result never comes without one, nor an input twice. */
  private readonly shownCalls = new Set<string>();
  /** Calls an approval request names: a denial is the AI SDK's own `tool-output-denied`. */
  private readonly approvalCalls = new Set<string>();
  /** Questions asked, so that an answer can update the part that asked. */
  private readonly questions = new Map<string, InputRequestRecord>();
  /** Whether the last chunks were a tool's result: what comes next is a new step. */
  private afterToolResult = false;

  constructor(private readonly runId: string) {}

  /** What every stream of the run opens with: the assistant message, whose id is the run's, and a step of it. */
  opening(): UIMessageChunk[] {
    this.afterToolResult = false;
    return [{ type: 'start', messageId: this.runId }, { type: 'start-step' }];
  }

  /**
   * The chunks for one of the run's events (often none or several). What follows a tool's result
   * is a new step, as in the AI SDK's own agents (a step ends with its tools' results): its
   * clients tell calls still waiting for the client by the last step's tool parts
   * (lastAssistantMessageIsCompleteWithToolCalls), and would otherwise post a finished run again.
   */
  translate(event: StoredEvent): UIMessageChunk[] {
    const chunks = this.chunksOf(event);
    if (chunks.length === 0) return chunks;
    const newStep = this.afterToolResult && event.type !== 'ToolCompleted' && !ENDING_CHUNKS.has(chunks.at(-1)!.type);
    this.afterToolResult = event.type === 'ToolCompleted';
    return newStep ? [{ type: 'finish-step' }, { type: 'start-step' }, ...chunks] : chunks;
  }

  private chunksOf(event: StoredEvent): UIMessageChunk[] {
    switch (event.type) {
      case 'AgentToken': {
        if (event.delta === '') return [];
        const chunks: UIMessageChunk[] = [];
        if (this.openTextId === null) {
          this.openTextId = `${event.runId}:${event.seq}`;
          chunks.push({ type: 'text-start', id: this.openTextId });
        }
        chunks.push({ type: 'text-delta', id: this.openTextId, delta: event.delta });
        return chunks;
      }
      case 'AgentThinking': {
        if (event.text === '') return [];
        const id = `${event.runId}:${event.seq}`;
        return [...this.closeText(), { type: 'reasoning-start', id }, { type: 'reasoning-delta', id, delta: event.text }, { type: 'reasoning-end', id }];
      }
      case 'ToolExecuting':
        // An approved or client call was shown when it was asked about; this is it going on.
        return [...this.closeText(), ...this.toolInput(event.toolCallId, event.toolName, event.arguments)];
      case 'ToolCompleted': {
        const chunks = [...this.closeText(), ...this.toolInput(event.toolCallId, event.toolName, null)];
        const { toolCallId, error } = event;
        if (error?.code === 'TOOL_DENIED' && this.approvalCalls.has(toolCallId)) chunks.push({ type: 'tool-output-denied', toolCallId });
        else if (error) chunks.push({ type: 'tool-output-error', toolCallId, errorText: `${error.code}: ${error.message}` });
        else chunks.push({ type: 'tool-output-available', toolCallId, output: event.result ?? null });
        return chunks;
      }
      case 'AgentHandoff':
        return [...this.closeText(), { type: 'data-handoff', data: { fromAgentId: event.fromAgentId, toAgentId: event.toAgentId, reason: event.reason } }];
      case 'AgentArtifact':
        return [
          ...this.closeText(),
          { type: 'data-artifact', id: event.artifactId, data: { artifactId: event.artifactId, kind: event.kind, title: event.title, data: event.data } },
        ];
      case 'AgentInputRequested':
        return [...this.closeText(), ...this.asked(event.request)];
      case 'AgentInputReceived': {
        const question = this.questions.get(event.requestId);
        return question ? [questionPart(question, event.response)] : [];
      }
      case 'AgentCompleted': {
        const metadata: FinishMetadata = { status: 'COMPLETED', agentMessageId: event.message.id, ...(event.usage && { usage: event.usage }) };
        return [...this.closeText(), { type: 'finish-step' }, { type: 'finish', finishReason: 'stop', messageMetadata: metadata }];
      }
      case 'AgentFailed':
        return [...this.closeText(), { type: 'error', errorText: `${event.error.code}: ${event.error.message}` }];
      case 'AgentCancelled':
        return [...this.closeText(), { type: 'abort', reason: event.reason }];
      case 'MessageCreated':
      case 'AgentStarted':
        // The user's own message, and the run's start: the stream's `start` already opened it.
        return [];
    }
  }

  /** The run waits for these requests: the message is finished for now. */
  paused(requests: readonly InputRequestRecord[]): UIMessageChunk[] {
    // 'tool-calls' when the client has calls to approve or run, as the AI SDK's own agents finish then.
    const finishReason: FinishReason = requests.some(isToolCall) ? 'tool-calls' : 'other';
    const metadata: FinishMetadata = { status: 'WAITING' };
    return [...this.closeText(), { type: 'finish-step' }, { type: 'finish', finishReason, messageMetadata: metadata }];
  }

  private asked(request: InputRequestRecord): UIMessageChunk[] {
    const { toolCallId, toolName } = request;
    if (!isToolCall(request) || !toolCallId || !toolName) {
      this.questions.set(request.id, request);
      return [questionPart(request, null)];
    }
    const input = this.toolInput(toolCallId, toolName, request.arguments);
    if (request.kind !== 'APPROVAL') return input;
    this.approvalCalls.add(toolCallId);
    return [...input, { type: 'tool-approval-request', approvalId: request.id, toolCallId }];
  }

  /** The call's input, unless the client has it already. */
  private toolInput(toolCallId: string, toolName: string, input: unknown): UIMessageChunk[] {
    if (this.shownCalls.has(toolCallId)) return [];
    this.shownCalls.add(toolCallId);
    return [{ type: 'tool-input-available', toolCallId, toolName, input: input ?? {} }];
  }

  private closeText(): UIMessageChunk[] {
    if (this.openTextId === null) return [];
    const id = this.openTextId;
    this.openTextId = null;
    return [{ type: 'text-end', id }];
  }
}

/** Whether the request is about a tool call (an approval, a client tool) rather than a question. */
function isToolCall(request: InputRequestRecord): boolean {
  return request.kind !== 'QUESTION' && request.toolCallId !== null && request.toolName !== null;
}

/** A question as a data part: what is asked, and its answer once there is one (the same id, so the part is updated). */
function questionPart(request: InputRequestRecord, response: InputResponse | null): UIMessageChunk {
  return {
    type: 'data-question',
    id: request.id,
    data: {
      requestId: request.id,
      kind: request.kind,
      prompt: request.prompt,
      options: request.options,
      answerSchema: request.answerSchema,
      expiresAt: request.expiresAt,
      ...(response && { answer: response.answer, approved: response.approved, comment: response.comment }),
    },
  };
}
