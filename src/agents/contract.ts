/**
 * The contract every agent implements: a small async function over a context. An agent never
 * sees sockets, GraphQL or stores; it reads its input and history, calls tools, and emits
 * through the context. Cancellation arrives as `signal`; every emit after it rejects.
 */
import type { ArtifactKind, StoredEvent } from '../domain/events.ts';
import type { AgentErrorInfo, InputResponse, MessageRecord, RunInput, TokenUsage } from '../domain/records.ts';
import type { AgentId, AgentKind, AttachedFile, Pillar } from '../domain/product.ts';

/** The registry as an agent sees it: who else there is to hand a message to. */
export interface AgentDirectory {
  get(id: AgentId): AgentDefinition | undefined;
  list(): readonly AgentDefinition[];
  /** The guide: the first registered agent of kind GUIDE. */
  guide(): AgentDefinition | undefined;
  /** The pillar's liaison: the first registered LIAISON of that pillar. */
  liaison(pillar: Pillar): AgentDefinition | undefined;
}

/** A registered tool as an agent (or a model) sees it. */
export interface ToolDescription {
  name: string;
  description: string;
  /** JSON Schema of the tool's input (an object). */
  inputSchema: Record<string, unknown>;
  /** `client` for a tool the frontend executes (its result is a person's client's answer). */
  executedBy?: 'server' | 'client';
}

/** What an agent asks a person with `ask`. */
export interface Question {
  /** What the person is asked, readable as it is. */
  prompt: string;
  /** The answers offered; the answer must be one of them. */
  options?: readonly string[];
  /** JSON Schema the answer must match. */
  answerSchema?: Record<string, unknown>;
  /** How long the question stays open (default INPUT_TIMEOUT_MS); unanswered, the run fails INPUT_EXPIRED. */
  expiresInMs?: number;
  /**
   * Names the question within the run (such as a remote agent's interrupt id), so that asking it
   * again, after the run resumed, finds its answer; default: its place among the agent's questions.
   */
  id?: string;
  /** What the question is about, shown with it (the request's `arguments`), such as the remote interrupt it stands for. */
  details?: unknown;
}

export interface AgentContext {
  /** The agent this context emits as. */
  readonly agentId: AgentId;
  readonly runId: string;
  readonly conversationId: string;
  /** What the run was asked; frozen all the way down, as are `files` and `history`: read them, never change them. */
  readonly input: RunInput;
  /** `input.context.files`, validated. */
  readonly files: readonly AttachedFile[];
  /** The conversation's whole history, oldest first, ending with the message being answered. */
  readonly history: readonly MessageRecord[];
  readonly signal: AbortSignal;
  /** Every registered agent. */
  readonly agents: AgentDirectory;
  /** Every registered tool, for agents that offer them to a model. */
  readonly tools: readonly ToolDescription[];
  /** Emits AgentThinking. */
  think(text: string): Promise<void>;
  /** Streams `text` as word-sized AgentToken deltas, pausing between them; the run's reply is all of them joined. */
  say(text: string): Promise<void>;
  /** Emits one AgentToken exactly as given, at once (a model's delta): no pause, no splitting. */
  stream(delta: string): Promise<void>;
  /** Emits AgentArtifact. */
  artifact(kind: ArtifactKind, title: string, data: unknown): Promise<void>;
  /**
   * Runs a registered tool as a tool call (ToolExecuting, then ToolCompleted) and returns its
   * result. `toolCallId` (unique within the conversation) defaults to one made of the run's id
   * and the call's place in it. Input that does not match the tool's schema, or an unknown tool,
   * fails the call with a ToolError. A tool that needs approval first pauses the run until a
   * person answers: approved, it runs; denied, the call ends TOOL_DENIED and this throws a
   * ToolDeniedError. A client tool pauses the run until the frontend gives its result.
   */
  callTool<T = unknown>(name: string, args: Record<string, unknown>, options?: { toolCallId?: string }): Promise<T>;
  /** Reports a tool call that runs elsewhere (a remote agent's): emits ToolExecuting. */
  reportToolCall(call: { toolCallId: string; toolName: string; arguments: unknown }): Promise<void>;
  /**
   * Reports the end of a call reported with `reportToolCall`: emits ToolCompleted. Calls left
   * open when the run ends are closed with an error, so that every ToolExecuting has its pair.
   */
  reportToolResult(toolCallId: string, outcome: { result?: unknown; error?: AgentErrorInfo | null }): Promise<void>;
  /** Adds to the run's token usage (summed over the run, on AgentRun and AgentCompleted). */
  reportUsage(usage: TokenUsage): void;
  /**
   * Hands the message to another agent: emits AgentHandoff and runs `to` in this run, its reply
   * streaming as the run's reply.
   */
  delegate(to: AgentId, reason: string): Promise<void>;
  /**
   * Asks another agent for its view: emits AgentHandoff and runs `to` with its reply captured
   * (its thinking, tools and artifacts are emitted as usual) and returned instead of streamed.
   */
  consult(to: AgentId, reason: string): Promise<string>;
  /** Waits one agent step (AGENT_STEP_DELAY_MS), rejecting on cancellation. */
  pause(): Promise<void>;
  /**
   * Asks a person and resolves with their answer. The run pauses (WAITING) and lets go of its
   * process; once answered, it runs again from its start, and everything it did before comes
   * back from its log instead of being done again: so an agent must do the same things in the
   * same order up to here, which every agent that decides only from its context does.
   */
  ask(question: Question): Promise<unknown>;
  /**
   * For agents that continue from what they did rather than run again (the LLM and AG-UI
   * adapters): on a run resumed after a pause, this agent's events from before it, in order,
   * and the answers it got, each handed out once; none on a run that did not pause.
   */
  resumeFromLog(): ResumedWork;
}

/** What an agent did before its run paused, from the run's log. */
export interface ResumedWork {
  events: readonly StoredEvent[];
  /** The responses to its requests, by request id. */
  answers: ReadonlyMap<string, InputResponse>;
}

export interface AgentDefinition {
  id: AgentId;
  kind: AgentKind;
  pillar: Pillar | null;
  name: string;
  description: string;
  run(context: AgentContext): Promise<void>;
}
