/**
 * The records shared by both planes. Stores persist them; nothing here knows about GraphQL.
 */
import type { Surface } from './product.ts';

/** Tokens a run's models used, summed over the run; each count is null when no model reported it. */
export interface TokenUsage {
  inputTokens: number | null;
  outputTokens: number | null;
  totalTokens: number | null;
}

export interface AgentErrorInfo {
  code: string;
  message: string;
  retryable: boolean;
}

export { RUN_STATUSES, TERMINAL_STATUSES, type RunStatus } from './run-states.ts';
export { INPUT_STATUSES, type InputStatus } from './input-states.ts';
import type { RunStatus } from './run-states.ts';
import type { InputStatus } from './input-states.ts';
export const MESSAGE_ROLES = ['USER', 'AGENT'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

/** Who owns a conversation: a user within an optional tenant. */
export interface Owner {
  userId: string;
  tenantId: string | null;
}

export interface ConversationRecord {
  id: string;
  owner: Owner;
  title: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface MessageRecord {
  id: string;
  conversationId: string;
  role: MessageRole;
  text: string;
  agentId: string | null;
  runId: string | null;
  /** The `seq` of the event that carried the message (MessageCreated or AgentCompleted). */
  seq: number;
  createdAt: string;
}

/** What the agent of a run is asked to do; stored with the run so any executor can pick it up. */
export interface RunInput {
  text: string;
  surface: Surface;
  projectId: string | null;
  context: Record<string, unknown> | null;
  /** Tools the frontend offered for this run, which it runs itself: a call of one is a CLIENT_TOOL request. */
  clientTools?: ClientTool[];
  /**
   * The W3C trace context of the send (`traceparent`, `tracestate`) when tracing is on: stored
   * with the run so that its executions, wherever and however late (after a pause), continue the
   * send's trace. Absent when tracing is off.
   */
  trace?: Record<string, string>;
}

/** A tool a frontend offers with its message (AG-UI's `RunAgentInput.tools`). */
export interface ClientTool {
  name: string;
  description: string;
  /** JSON Schema of the tool's input (an object). */
  inputSchema: Record<string, unknown>;
}

export interface RunRecord {
  id: string;
  conversationId: string;
  owner: Owner;
  agentId: string;
  status: RunStatus;
  userMessageId: string;
  input: RunInput;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error: AgentErrorInfo | null;
  /** Why a run was cancelled, kept for its AgentCancelled event. */
  cancelReason: string | null;
  /** Tokens its models used, once it has ended (absent on runs stored before usage was recorded). */
  usage?: TokenUsage | null;
  /** Time it spent RUNNING in executions before its last pause (RUN_TIMEOUT_MS counts only that). */
  activeMs?: number;
  /**
   * Set when it ended while no process executed it (QUEUED or WAITING): its terminal event then
   * comes in its turn in the queue rather than from an executor.
   */
  endedIdle?: boolean;
}

/** The ids of what a send stored, remembered under its idempotency key. */
export interface SendReservation {
  conversationId: string;
  messageId: string;
  runId: string;
}

export const INPUT_KINDS = ['APPROVAL', 'QUESTION', 'CLIENT_TOOL'] as const;
export type InputKind = (typeof INPUT_KINDS)[number];

/** A person's answer to an input request. */
export interface InputResponse {
  approved: boolean | null;
  answer: unknown;
  comment: string | null;
  /** The user id of who answered. */
  respondedBy: string;
  respondedAt: string;
}

/** What a paused run asks a person: approve a tool call, answer a question, or run a client-side tool. */
export interface InputRequestRecord {
  id: string;
  runId: string;
  conversationId: string;
  agentId: string;
  kind: InputKind;
  status: InputStatus;
  prompt: string;
  toolCallId: string | null;
  toolName: string | null;
  arguments: unknown;
  options: string[] | null;
  answerSchema: Record<string, unknown> | null;
  createdAt: string;
  expiresAt: string | null;
  response: InputResponse | null;
}
