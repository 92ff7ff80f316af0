/**
 * The frames of the platform's older sockets (seed-sockets.ts serves them), one dialect per
 * path: what a frame in asks for, and our events as frames out. Deprecated; docs/seed-sockets.md
 * is the reference and the migration table.
 *
 * - `/api/ws/agent`: `{agent_type, pillar, message, conversation_id}` in;
 *   `{agent_type, pillar, message, conversation_id, type, data}` out, one frame per event.
 * - `/api/runtime/agent`: `{type: "agent.message", payload: {text, context}}` in;
 *   `{type: "runtime_event", event_type, data, timestamp}` out. Its clients were written for
 *   four event types (started, token, completed, failed), so by default only those go out: a
 *   cancelled run ends with `agent.failed` (code CANCELLED), since a client must see its run
 *   end and completed would promise an answer; everything else is left out rather than sent
 *   under a name such a client may not survive. `events=all` in the query opts in to the rest.
 *
 * Every frame out carries `seq` and `run_id`. An event's frame has the event's own; any other
 * frame (an error, a pong) has `run_id: null` and repeats the last seq the socket delivered, so
 * that a client resuming with the last seq it saw never skips an event.
 */
import { z } from 'zod';
import type { AgentDefinition } from '../../agents/contract.ts';
import { PILLARS, SURFACES, type Pillar, type Surface } from '../../domain/product.ts';
import type { StoredEvent } from '../../domain/events.ts';
import type { InputRequestRecord, TokenUsage } from '../../domain/records.ts';
import { badInput } from '../../errors.ts';
import type { AnswerInput } from '../../experience/input-answers.ts';
import type { AgentTarget } from '../../experience/routing.ts';
import type { ActiveRunPolicy, SendInput } from '../../experience/validation.ts';

export type Frame = Record<string, unknown>;

/** What a frame in asks for. */
export type SeedCommand =
  { kind: 'send'; input: SendInput } | { kind: 'cancel'; runId: string | null } | { kind: 'respond'; answer: AnswerInput } | { kind: 'ping' };

/** An error as a frame shows it: the contract's code, a message, and what the error adds (field, retryAfterMs). */
export type ErrorBody = { code: string; message: string } & Record<string, unknown>;

/** Where a frame that is not an event stands: the last seq delivered, and the conversation followed. */
export interface FramePlace {
  seq: number;
  conversationId: string | null;
}

export interface SeedDialect {
  /** What `frame` (parsed JSON) asks for; throws BAD_USER_INPUT, naming the field, when it does not fit. */
  command(frame: Frame): SeedCommand;
  /** The frame for one of our events, or null where this socket shows nothing of it. */
  eventFrame(event: StoredEvent): Frame | null;
  errorFrame(error: ErrorBody, place: FramePlace): Frame;
  pongFrame(place: FramePlace): Frame;
}

/** A frame whose `type` no dialect knows, or that is not a JSON object: the socket is closed (4400). */
export class MalformedFrame extends Error {}

const lowercase = <T extends readonly string[]>(values: T) =>
  z
    .string()
    .transform((value) => value.toLowerCase())
    .pipe(z.enum(values.map((value) => value.toLowerCase()) as [string, ...string[]]));
const PILLAR = lowercase(PILLARS);
const SURFACE = lowercase(SURFACES);
const ACTIVE_RUN_POLICY = lowercase(['ENQUEUE', 'INTERRUPT', 'REJECT'] as const);
const CONTEXT = z.record(z.string(), z.unknown());

const RESPOND_FIELDS = {
  request_id: z.string(),
  approved: z.boolean().nullish(),
  answer: z.unknown().optional(),
  comment: z.string().nullish(),
};

function parsed<T extends z.ZodType>(schema: T, frame: unknown): z.infer<T> {
  const result = schema.safeParse(frame);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.join('.');
  throw badInput(`${field || 'The frame'}: ${issue.message}`, field || undefined);
}

const answerOf = (frame: z.infer<z.ZodObject<typeof RESPOND_FIELDS>>): AnswerInput => ({
  requestId: frame.request_id,
  approved: frame.approved ?? null,
  ...(frame.answer !== undefined && { answer: frame.answer }),
  comment: frame.comment ?? null,
});

const upper = <T extends string>(value: string | null | undefined): T | null => (value ? (value.toUpperCase() as T) : null);

/** `agent_id` (any registered agent) wins, as the GraphQL target's does; without a kind the surface routes. */
function targetOf(kind: 'GUIDE' | 'LIAISON' | null, surface: Surface | null, agentId: string | null | undefined): AgentTarget | null {
  if (agentId) return { kind: kind ?? 'GUIDE', agentId };
  if (kind === null) return null;
  return kind === 'LIAISON' ? { kind, pillar: surface as Pillar | null } : { kind };
}

const usageOf = (usage: TokenUsage | null) => usage && { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, total_tokens: usage.totalTokens };

const requestOf = (request: InputRequestRecord) => ({
  id: request.id,
  kind: request.kind.toLowerCase(),
  prompt: request.prompt,
  tool_call_id: request.toolCallId,
  tool_name: request.toolName,
  arguments: request.arguments ?? null,
  options: request.options,
  answer_schema: request.answerSchema,
  expires_at: request.expiresAt,
});

// ---------------------------------------------------------------------------------------------
// /api/ws/agent

const AGENT_WS_MESSAGE = z.object({
  type: z.literal('message').optional(),
  message: z.string(),
  agent_type: z.enum(['guide', 'liaison']).nullish(),
  pillar: PILLAR.nullish(),
  agent_id: z.string().nullish(),
  conversation_id: z.string().nullish(),
  client_message_id: z.string().nullish(),
  context: CONTEXT.nullish(),
  on_active_run: ACTIVE_RUN_POLICY.nullish(),
});
const AGENT_WS_CANCEL = z.object({ type: z.literal('cancel'), run_id: z.string().nullish() });
const AGENT_WS_RESPOND = z.object({ type: z.literal('respond'), ...RESPOND_FIELDS });

/** `/api/ws/agent`: the frame out names the agent that emitted the event by its kind and pillar. */
export class AgentWsDialect implements SeedDialect {
  /** Kind and pillar by agent id, as the frames spell them, looked up once per agent. */
  private readonly speakers = new Map<string, { agent_type: string | null; pillar: string | null }>();

  constructor(private readonly agents: readonly AgentDefinition[]) {}

  command(frame: Frame): SeedCommand {
    switch (frame['type']) {
      case undefined:
      case 'message': {
        const message = parsed(AGENT_WS_MESSAGE, frame);
        // The pillar is where the user is: the liaison's pillar, and the guide's surface.
        const surface = upper<Surface>(message.pillar);
        const kind = upper<'GUIDE' | 'LIAISON'>(message.agent_type);
        return {
          kind: 'send',
          input: {
            text: message.message,
            surface,
            target: targetOf(kind, surface, message.agent_id),
            conversationId: message.conversation_id ?? null,
            clientMessageId: message.client_message_id ?? null,
            onActiveRun: upper<ActiveRunPolicy>(message.on_active_run),
            context: message.context ?? null,
          },
        };
      }
      case 'cancel':
        return { kind: 'cancel', runId: parsed(AGENT_WS_CANCEL, frame).run_id ?? null };
      case 'respond':
        return { kind: 'respond', answer: answerOf(parsed(AGENT_WS_RESPOND, frame)) };
      case 'ping':
        return { kind: 'ping' };
      default:
        throw new MalformedFrame(`Unknown frame type ${JSON.stringify(frame['type'])}: send a message, "cancel", "respond" or "ping".`);
    }
  }

  eventFrame(event: StoredEvent): Frame | null {
    const [type, message, data] = this.body(event);
    return {
      ...this.speaker(event.agentId),
      message,
      conversation_id: event.conversationId,
      type,
      data,
      timestamp: event.timestamp,
      seq: event.seq,
      run_id: event.runId,
    };
  }

  errorFrame(error: ErrorBody, place: FramePlace): Frame {
    return this.other('error', error.message, error, place);
  }

  pongFrame(place: FramePlace): Frame {
    return this.other('pong', '', {}, place);
  }

  private other(type: string, message: string, data: unknown, place: FramePlace): Frame {
    const timestamp = new Date().toISOString();
    return { agent_type: null, pillar: null, message, conversation_id: place.conversationId, type, data, timestamp, seq: place.seq, run_id: null };
  }

  /** The frame's type, its readable text and its data. */
  private body(event: StoredEvent): [string, string, Frame] {
    switch (event.type) {
      case 'MessageCreated':
        return ['user_message', event.message.text, { message_id: event.message.id }];
      case 'AgentStarted':
        return ['agent_started', '', { agent_id: event.agentId }];
      case 'AgentThinking':
        return ['thinking', event.text, { text: event.text }];
      case 'AgentToken':
        return ['token', event.delta, { delta: event.delta }];
      case 'ToolExecuting':
        return ['tool_call', '', { tool_call_id: event.toolCallId, tool_name: event.toolName, arguments: event.arguments ?? null }];
      case 'ToolCompleted':
        return [
          'tool_result',
          '',
          { tool_call_id: event.toolCallId, tool_name: event.toolName, result: event.result ?? null, error: event.error, duration_ms: event.durationMs },
        ];
      case 'AgentHandoff':
        return [
          'handoff',
          event.reason,
          { from_agent_id: event.fromAgentId, to_agent_id: event.toAgentId, reason: event.reason, to: this.speaker(event.toAgentId) },
        ];
      case 'AgentArtifact':
        return ['artifact', event.title, { artifact_id: event.artifactId, kind: event.kind.toLowerCase(), title: event.title, data: event.data }];
      case 'AgentInputRequested':
        return ['input_requested', event.request.prompt, { request: requestOf(event.request) }];
      case 'AgentInputReceived':
        return [
          'input_received',
          '',
          { request_id: event.requestId, approved: event.response.approved, answer: event.response.answer, comment: event.response.comment },
        ];
      case 'AgentCompleted':
        return ['complete', event.message.text, { message_id: event.message.id, text: event.message.text, usage: usageOf(event.usage) }];
      case 'AgentFailed':
        return ['error', event.error.message, { ...event.error }];
      case 'AgentCancelled':
        return ['cancelled', event.reason, { reason: event.reason }];
    }
  }

  private speaker(agentId: string | null): { agent_type: string | null; pillar: string | null } {
    if (agentId === null) return NOBODY;
    let speaker = this.speakers.get(agentId);
    if (!speaker) {
      const agent = this.agents.find((candidate) => candidate.id === agentId);
      speaker = { agent_type: agent?.kind.toLowerCase() ?? null, pillar: agent?.pillar?.toLowerCase() ?? null };
      this.speakers.set(agentId, speaker);
    }
    return speaker;
  }
}

const NOBODY = { agent_type: null, pillar: null };

// ---------------------------------------------------------------------------------------------
// /api/runtime/agent

const RUNTIME_MESSAGE = z.object({
  type: z.literal('agent.message'),
  payload: z.object({
    text: z.string(),
    agent_id: z.string().nullish(),
    client_message_id: z.string().nullish(),
    on_active_run: ACTIVE_RUN_POLICY.nullish(),
    // Besides surface and conversation_id, the context is the send's own (e.g. files).
    context: z.looseObject({ surface: SURFACE.nullish(), conversation_id: z.string().nullish() }).nullish(),
  }),
});
const RUNTIME_CANCEL = z.object({ type: z.literal('agent.cancel'), payload: z.object({ run_id: z.string().nullish() }).nullish() });
const RUNTIME_RESPOND = z.object({ type: z.literal('agent.respond'), payload: z.object(RESPOND_FIELDS) });

/** `/api/runtime/agent`: four event types, or every kind with `events=all`. */
export class RuntimeDialect implements SeedDialect {
  constructor(private readonly allEvents: boolean) {}

  command(frame: Frame): SeedCommand {
    switch (frame['type']) {
      case 'agent.message': {
        const { payload } = parsed(RUNTIME_MESSAGE, frame);
        const { surface, conversation_id: conversationId, ...context } = payload.context ?? {};
        return {
          kind: 'send',
          input: {
            text: payload.text,
            surface: upper<Surface>(surface),
            target: targetOf(null, null, payload.agent_id),
            conversationId: conversationId ?? null,
            clientMessageId: payload.client_message_id ?? null,
            onActiveRun: upper<ActiveRunPolicy>(payload.on_active_run),
            context: Object.keys(context).length > 0 ? context : null,
          },
        };
      }
      case 'agent.cancel':
        return { kind: 'cancel', runId: parsed(RUNTIME_CANCEL, frame).payload?.run_id ?? null };
      case 'agent.respond':
        return { kind: 'respond', answer: answerOf(parsed(RUNTIME_RESPOND, frame).payload) };
      case 'ping':
        return { kind: 'ping' };
      default:
        throw new MalformedFrame(`Unknown frame type ${JSON.stringify(frame['type'])}: send "agent.message", "agent.cancel", "agent.respond" or "ping".`);
    }
  }

  eventFrame(event: StoredEvent): Frame | null {
    const body = this.body(event);
    if (body === null) return null;
    const [eventType, data] = body;
    data['conversation_id'] = event.conversationId;
    return { type: 'runtime_event', event_type: eventType, data, timestamp: event.timestamp, seq: event.seq, run_id: event.runId };
  }

  errorFrame(error: ErrorBody, place: FramePlace): Frame {
    return { type: 'error', data: { ...error, conversation_id: place.conversationId }, timestamp: new Date().toISOString(), seq: place.seq, run_id: null };
  }

  pongFrame(place: FramePlace): Frame {
    return { type: 'pong', data: {}, timestamp: new Date().toISOString(), seq: place.seq, run_id: null };
  }

  /** The event type and data, or null for an event this socket leaves out. */
  private body(event: StoredEvent): [string, Frame] | null {
    switch (event.type) {
      case 'AgentStarted':
        return ['agent.started', { agent_id: event.agentId }];
      case 'AgentToken':
        return ['agent.token', { delta: event.delta }];
      case 'AgentCompleted':
        return ['agent.completed', { message_id: event.message.id, text: event.message.text, agent_id: event.agentId, usage: usageOf(event.usage) }];
      case 'AgentFailed':
        return ['agent.failed', { ...event.error }];
      case 'AgentCancelled':
        return ['agent.failed', { code: 'CANCELLED', message: event.reason, retryable: false }];
      default:
        return this.allEvents ? this.extended(event) : null;
    }
  }

  private extended(event: StoredEvent): [string, Frame] | null {
    switch (event.type) {
      case 'MessageCreated':
        return ['agent.message', { message_id: event.message.id, text: event.message.text }];
      case 'AgentThinking':
        return ['agent.thinking', { text: event.text }];
      case 'ToolExecuting':
        return ['agent.tool_call', { tool_call_id: event.toolCallId, tool_name: event.toolName, arguments: event.arguments ?? null }];
      case 'ToolCompleted':
        return [
          'agent.tool_result',
          { tool_call_id: event.toolCallId, tool_name: event.toolName, result: event.result ?? null, error: event.error, duration_ms: event.durationMs },
        ];
      case 'AgentHandoff':
        return ['agent.handoff', { from_agent_id: event.fromAgentId, to_agent_id: event.toAgentId, reason: event.reason }];
      case 'AgentArtifact':
        return ['agent.artifact', { artifact_id: event.artifactId, kind: event.kind.toLowerCase(), title: event.title, data: event.data }];
      case 'AgentInputRequested':
        return ['agent.input_requested', { request: requestOf(event.request) }];
      case 'AgentInputReceived':
        return [
          'agent.input_received',
          { request_id: event.requestId, approved: event.response.approved, answer: event.response.answer, comment: event.response.comment },
        ];
      default:
        return null;
    }
  }
}
