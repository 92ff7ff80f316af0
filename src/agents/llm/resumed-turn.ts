/**
 * A model turn that paused (a tool call waiting for approval, or for the client) picked up from
 * the run's log, as the AI SDK resumes from messages: what the model said and called before the
 * pause becomes assistant and tool messages, and the calls it waited on are settled now (run on
 * approval, refused on denial, the client's result) so that the model goes on from their results.
 */
import type { ModelMessage } from 'ai';
import type { StoredEvent } from '../../domain/events.ts';

export interface ToolCallPart {
  toolCallId: string;
  toolName: string;
  input: unknown;
}

export interface ToolResultPart {
  toolCallId: string;
  toolName: string;
  output: unknown;
}

interface Step {
  text: string;
  calls: ToolCallPart[];
  results: ToolResultPart[];
}

export interface ResumedTurn {
  /** The turn's steps before the pause, as messages (the last without the results still to come). */
  steps: Step[];
  /** Calls that waited for a person, in order: their results are what the turn goes on from. */
  waiting: ToolCallPart[];
  /** Whether the turn had paused at all: one that finished before its run paused is over. */
  paused: boolean;
}

/** The turn as the log has it (the events of its agent before the pause); `resultOf` reads a ToolCompleted the model sees. */
export function resumedTurn(events: readonly StoredEvent[], resultOf: (event: Extract<StoredEvent, { type: 'ToolCompleted' }>) => unknown): ResumedTurn {
  const steps: Step[] = [];
  let step: Step = { text: '', calls: [], results: [] };
  const open = new Map<string, ToolCallPart>();
  let paused = false;
  const call = (part: ToolCallPart) => {
    // A step ends with its results: a call after them is the model's next step.
    if (step.results.length > 0 && open.size === 0) {
      steps.push(step);
      step = { text: '', calls: [], results: [] };
    }
    if (!step.calls.some((known) => known.toolCallId === part.toolCallId)) step.calls.push(part);
    open.set(part.toolCallId, part);
  };
  for (const event of events) {
    switch (event.type) {
      case 'AgentToken':
        if (step.results.length > 0 && open.size === 0) {
          steps.push(step);
          step = { text: '', calls: [], results: [] };
        }
        step.text += event.delta;
        break;
      case 'ToolExecuting':
        call({ toolCallId: event.toolCallId, toolName: event.toolName, input: event.arguments });
        break;
      case 'AgentInputRequested':
        paused = true;
        if (event.request.toolCallId && event.request.toolName) {
          call({ toolCallId: event.request.toolCallId, toolName: event.request.toolName, input: event.request.arguments });
        }
        break;
      case 'ToolCompleted':
        open.delete(event.toolCallId);
        step.results.push({ toolCallId: event.toolCallId, toolName: event.toolName, output: resultOf(event) });
        break;
    }
  }
  steps.push(step);
  return { steps, waiting: [...open.values()], paused };
}

/** The steps as the model reads them, with `modelName` giving each tool the name the model knows it by. */
export function stepMessages(steps: readonly Step[], modelName: (registered: string) => string): ModelMessage[] {
  const messages: ModelMessage[] = [];
  for (const step of steps) {
    const content = [
      ...(step.text ? [{ type: 'text' as const, text: step.text }] : []),
      ...step.calls.map((part) => ({ type: 'tool-call' as const, toolCallId: part.toolCallId, toolName: modelName(part.toolName), input: part.input })),
    ];
    if (content.length > 0) messages.push({ role: 'assistant', content });
    if (step.results.length > 0) {
      messages.push({
        role: 'tool',
        content: step.results.map((part) => ({
          type: 'tool-result' as const,
          toolCallId: part.toolCallId,
          toolName: modelName(part.toolName),
          output: { type: 'json' as const, value: (part.output ?? null) as never },
        })),
      });
    }
  }
  return messages;
}
