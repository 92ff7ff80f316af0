/**
 * The contract every agent implements: a small async function over a context. An agent never
 * sees sockets, GraphQL or stores; it reads its input and history, calls tools, and emits
 * through the context. Cancellation arrives as `signal`; every emit after it rejects.
 */
import type { ArtifactKind } from '../events/types.ts';
import type { MessageRecord, Pillar, RunInput } from '../store/types.ts';

export type AgentId = 'guide' | 'liaison.content' | 'liaison.insights' | 'liaison.journey' | 'liaison.outcomes';

export interface AttachedFile {
  name: string;
  content: string;
}

export interface AgentContext {
  /** The agent this context emits as. */
  readonly agentId: AgentId;
  readonly input: RunInput;
  /** `input.context.files`, validated. */
  readonly files: readonly AttachedFile[];
  /** The conversation's whole history, oldest first, ending with the message being answered. */
  readonly history: readonly MessageRecord[];
  readonly signal: AbortSignal;
  /** Emits AgentThinking. */
  think(text: string): Promise<void>;
  /** Streams `text` as AgentToken deltas, pausing between them; the run's reply is all of them joined. */
  say(text: string): Promise<void>;
  /** Emits AgentArtifact. */
  artifact(kind: ArtifactKind, title: string, data: unknown): Promise<void>;
  /** Runs a platform intent as a tool call (ToolExecuting, then ToolCompleted) and returns its result. */
  callTool<T = unknown>(name: string, args: Record<string, unknown>): Promise<T>;
  /** Emits AgentHandoff from this agent to `to` and returns the context `to` works in. */
  handoff(to: AgentId, reason: string): Promise<AgentContext>;
  /** Waits one agent step (AGENT_STEP_DELAY_MS), rejecting on cancellation. */
  pause(): Promise<void>;
}

export interface AgentDefinition {
  id: AgentId;
  kind: 'GUIDE' | 'LIAISON';
  pillar: Pillar | null;
  name: string;
  description: string;
  run(context: AgentContext): Promise<void>;
}
