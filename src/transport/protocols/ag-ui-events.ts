/**
 * Our events as AG-UI events, for the AG-UI endpoint (ag-ui.ts). A translator follows one run:
 * AG-UI brackets text and steps (START … END) where our log has single events, so it remembers
 * what is open. Fed the run's events up to a point without writing them, it knows what a
 * resumed stream must re-open first (`reopened`).
 *
 * The mapping, where AG-UI has no event of its own:
 * - each agent's part of a run is a step named after the agent (STEP_STARTED on AgentStarted);
 *   a hand-off finishes the first agent's step and starts the second's, with a CUSTOM
 *   "AgentHandoff" event between them that keeps the reason (steps carry only a name);
 * - an artifact is a CUSTOM "AgentArtifact" event with its kind, title and data: AG-UI has no
 *   artifact event, and its state events would merge artifacts into one document the client
 *   must keep;
 * - thinking is a reasoning message; an input request is an interrupt of the run's RUN_FINISHED
 *   (ag-ui.ts), and a client tool's call is also shown as a tool call, for the frontend's handler.
 */
import { EventType, type BaseEvent, type Interrupt } from '@ag-ui/core';
import type { StoredEvent } from '../../domain/events.ts';
import type { InputRequestRecord } from '../../domain/records.ts';

type Ag = BaseEvent & Record<string, unknown>;

export class AgUiTranslator {
  /** The assistant text message open since its first token, if any. */
  private openMessageId: string | null = null;
  private openStep: string | null = null;
  /** Calls whose start AG-UI has seen, so that a result never comes without one. */
  private readonly startedCalls = new Set<string>();
  /** Calls an approval request names: a denied one gets its result without ever executing. */
  private readonly approvalCalls = new Map<string, { toolName: string; arguments: unknown }>();

  constructor(
    private readonly threadId: string,
    private readonly runId: string,
  ) {}

  /** What a stream starting here opens with: RUN_STARTED, then the step and message already open. */
  opening(): Ag[] {
    const events: Ag[] = [{ type: EventType.RUN_STARTED, threadId: this.threadId, runId: this.runId }];
    if (this.openStep !== null) events.push({ type: EventType.STEP_STARTED, stepName: this.openStep });
    if (this.openMessageId !== null) events.push({ type: EventType.TEXT_MESSAGE_START, messageId: this.openMessageId, role: 'assistant' });
    return events;
  }

  /** The AG-UI events for one of the run's events (often none or several). */
  translate(event: StoredEvent): Ag[] {
    switch (event.type) {
      case 'AgentStarted':
        return this.startStep(event.agentId ?? 'agent');
      case 'AgentToken': {
        if (event.delta === '') return [];
        const events: Ag[] = [];
        if (this.openMessageId === null) {
          this.openMessageId = `${event.runId}:${event.seq}`;
          events.push({ type: EventType.TEXT_MESSAGE_START, messageId: this.openMessageId, role: 'assistant' });
        }
        events.push({ type: EventType.TEXT_MESSAGE_CONTENT, messageId: this.openMessageId, delta: event.delta });
        return events;
      }
      case 'AgentThinking': {
        if (event.text === '') return [];
        const messageId = `${event.runId}:${event.seq}`;
        return [
          ...this.closeMessage(),
          { type: EventType.REASONING_START, messageId },
          { type: EventType.REASONING_MESSAGE_START, messageId, role: 'reasoning' },
          { type: EventType.REASONING_MESSAGE_CONTENT, messageId, delta: event.text },
          { type: EventType.REASONING_MESSAGE_END, messageId },
          { type: EventType.REASONING_END, messageId },
        ];
      }
      case 'ToolExecuting':
        // A client tool's call was shown when it was requested; this is its answer being taken.
        if (this.startedCalls.has(event.toolCallId)) return [];
        return [...this.closeMessage(), ...this.toolCall(event.toolCallId, event.toolName, event.arguments)];
      case 'ToolCompleted': {
        const events = this.closeMessage();
        const approved = this.approvalCalls.get(event.toolCallId);
        if (!this.startedCalls.has(event.toolCallId)) events.push(...this.toolCall(event.toolCallId, event.toolName, approved?.arguments ?? null));
        const content = JSON.stringify(event.error ? { error: event.error } : (event.result ?? null));
        events.push({ type: EventType.TOOL_CALL_RESULT, messageId: `${event.toolCallId}:result`, toolCallId: event.toolCallId, content, role: 'tool' });
        return events;
      }
      case 'AgentHandoff':
        return [
          ...this.closeMessage(),
          ...this.finishStep(),
          custom('AgentHandoff', { fromAgentId: event.fromAgentId, toAgentId: event.toAgentId, reason: event.reason }),
          ...this.startStep(event.toAgentId),
        ];
      case 'AgentArtifact':
        return [custom('AgentArtifact', { artifactId: event.artifactId, kind: event.kind, title: event.title, data: event.data })];
      case 'AgentInputRequested': {
        const { request } = event;
        if (request.kind === 'APPROVAL' && request.toolCallId && request.toolName) {
          this.approvalCalls.set(request.toolCallId, { toolName: request.toolName, arguments: request.arguments });
        }
        if (request.kind === 'CLIENT_TOOL' && request.toolCallId && request.toolName) {
          return [...this.closeMessage(), ...this.toolCall(request.toolCallId, request.toolName, request.arguments)];
        }
        return this.closeMessage();
      }
      case 'AgentCompleted':
        return [...this.closeMessage(), ...this.finishStep(), this.finished({ type: 'success' })];
      case 'AgentCancelled':
        return [...this.closeMessage(), ...this.finishStep(), this.finished({ type: 'cancelled' })];
      case 'AgentFailed':
        return [...this.closeMessage(), { type: EventType.RUN_ERROR, message: event.error.message, code: event.error.code }];
      case 'MessageCreated':
      case 'AgentInputReceived':
        // The user's own message, and an answer the client itself gave: nothing to show it.
        return [];
    }
  }

  /** The run pauses on these requests: the stream ends with them as the run's interrupts. */
  interrupted(requests: readonly InputRequestRecord[]): Ag[] {
    return [...this.closeMessage(), ...this.finishStep(), this.finished({ type: 'interrupt', interrupts: requests.map(interruptOf) })];
  }

  private finished(outcome: Record<string, unknown>): Ag {
    return { type: EventType.RUN_FINISHED, threadId: this.threadId, runId: this.runId, outcome };
  }

  private toolCall(toolCallId: string, toolName: string, args: unknown): Ag[] {
    this.startedCalls.add(toolCallId);
    return [
      { type: EventType.TOOL_CALL_START, toolCallId, toolCallName: toolName },
      { type: EventType.TOOL_CALL_ARGS, toolCallId, delta: JSON.stringify(args ?? {}) },
      { type: EventType.TOOL_CALL_END, toolCallId },
    ];
  }

  private startStep(agentId: string): Ag[] {
    const events = this.finishStep();
    this.openStep = agentId;
    events.push({ type: EventType.STEP_STARTED, stepName: agentId });
    return events;
  }

  private finishStep(): Ag[] {
    if (this.openStep === null) return [];
    const stepName = this.openStep;
    this.openStep = null;
    return [{ type: EventType.STEP_FINISHED, stepName }];
  }

  private closeMessage(): Ag[] {
    if (this.openMessageId === null) return [];
    const messageId = this.openMessageId;
    this.openMessageId = null;
    return [{ type: EventType.TEXT_MESSAGE_END, messageId }];
  }
}

function custom(name: string, value: unknown): Ag {
  return { type: EventType.CUSTOM, name, value };
}

/**
 * An input request as an AG-UI interrupt: answered by a resume entry with its id. The reason is
 * the request's kind; what AG-UI has no field for (the tool, its arguments, the options) is in
 * the metadata.
 */
function interruptOf(request: InputRequestRecord): Interrupt {
  return {
    id: request.id,
    reason: request.kind.toLowerCase(),
    message: request.prompt,
    ...(request.toolCallId && { toolCallId: request.toolCallId }),
    ...(request.answerSchema && { responseSchema: request.answerSchema }),
    ...(request.expiresAt && { expiresAt: request.expiresAt }),
    metadata: {
      kind: request.kind,
      ...(request.toolName && { toolName: request.toolName }),
      ...(request.arguments !== null && request.arguments !== undefined && { arguments: request.arguments }),
      ...(request.options && { options: request.options }),
    },
  };
}
