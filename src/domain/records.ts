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

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const MESSAGE_ROLES = ['USER', 'AGENT'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
/** The statuses of a run that has not ended: every status but the terminal ones. */
export const ACTIVE_STATUSES: readonly RunStatus[] = RUN_STATUSES.filter((status) => !TERMINAL_STATUSES.has(status));

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
}

/** The ids of what a send stored, remembered under its idempotency key. */
export interface SendReservation {
  conversationId: string;
  messageId: string;
  runId: string;
}
