/**
 * An agent that runs elsewhere and speaks AG-UI over HTTP (LangGraph, CrewAI, Mastra, Pydantic AI...
 * behind an AG-UI endpoint), reached with `@ag-ui/client`'s HttpAgent:
 *
 *   agUiAgent({ id: 'research', name: 'Research', description: '...', url: 'https://agents.internal/research' })
 *
 * The remote run gets the conversation as its thread (threadId = conversation id, runId = run
 * id, messages from the history; surface, projectId and context in forwardedProps), and its
 * events become the run's: text -> AgentToken, tool calls -> ToolExecuting/ToolCompleted,
 * reasoning -> AgentThinking. AG-UI has no sequence numbers or resume; the gateway adds both.
 * HttpAgent's own runAgent neither rejects on RUN_ERROR nor notices a stream that stops short,
 * so this reads the raw event stream and holds the remote to the protocol itself.
 *
 * Human in the loop: the gateway's client tools are offered to the remote in
 * `RunAgentInput.tools`, and its calls of them become CLIENT_TOOL requests; its interrupts
 * (RUN_FINISHED with an interrupt outcome) become questions. Either pauses the run; resumed,
 * the remote is called again with the answers (`RunAgentInput.resume`, and the client tools'
 * results as tool messages) and goes on from there, never from the start.
 */
import { EventType, type BaseEvent, type Interrupt, type Message, type ResumeEntry, type RunAgentInput } from '@ag-ui/core';
import type { AgentContext, AgentDefinition, ResumedWork } from '../contract.ts';
import { AgentError } from '../errors.ts';
import { defineAgent, type AgentIdentity } from '../define.ts';
import { eventsOf } from './observable.ts';
import { traceContextOf, traceHeaders } from '../../tracing/spans.ts';

export interface AgUiAgentOptions extends AgentIdentity {
  /** The AG-UI endpoint (POST, answering Server-Sent Events). */
  url: string;
  /** Sent with every request, such as an Authorization header. */
  headers?: Record<string, string>;
}

export function agUiAgent(options: AgUiAgentOptions): AgentDefinition {
  return defineAgent(options, (context) => runRemote(options, context));
}

async function runRemote(options: AgUiAgentOptions, context: AgentContext): Promise<void> {
  // Loaded on a remote agent's first run: with its dependencies (rxjs among them) it is some 350
  // files, which a gateway without remote agents would load at every start for nothing.
  const { HttpAgent, transformChunks } = await import('@ag-ui/client');
  // The trace context goes along, so that a traced remote agent continues the run's trace.
  const headers = { ...options.headers, ...traceHeaders(traceContextOf(context)) };
  const remote = new HttpAgent({ url: options.url, headers, threadId: context.conversationId, fetch: endingQuietly });
  // Cancel, INTERRUPT, timeout and shutdown all abort the request to the remote agent.
  remote.abortController = new AbortController();
  const abort = () => remote.abortController.abort(context.signal.reason);
  context.signal.addEventListener('abort', abort, { once: true });
  const translator = new Translator(context);
  try {
    const input = inputFor(context, await continuation(context, context.resumeFromLog()));
    // transformChunks: the *_CHUNK shorthand some servers send, as START/CONTENT(ARGS)/END.
    const events = transformChunks()(remote.run(input));
    for await (const event of eventsOf<BaseEvent>(events, context.signal)) {
      const finished = await translator.apply(event);
      if (finished) return await askAll(context, finished.interrupts);
    }
    context.signal.throwIfAborted();
    throw new AgentError('UNAVAILABLE', `The remote agent ${options.id} ended its stream before finishing the run.`, true);
  } catch (error) {
    context.signal.throwIfAborted();
    throw remoteError(options.id, error);
  } finally {
    context.signal.removeEventListener('abort', abort);
  }
}

/** What a resumed run hands the remote to go on from its pause: the answers to its interrupts and its client tools' results. */
interface Continuation {
  resume: ResumeEntry[];
  messages: Message[];
}

/**
 * The remote's pause as the run's log has it: each interrupt it asked (a question whose details
 * name it) with its answer, and each client tool it called with the result (taken through
 * callTool, which finds the frontend's answer and records the call).
 */
async function continuation(context: AgentContext, work: ResumedWork): Promise<Continuation | null> {
  const resume: ResumeEntry[] = [];
  const messages: Message[] = [];
  for (const event of work.events) {
    if (event.type !== 'AgentInputRequested') continue;
    const { request } = event;
    const interruptId = (request.arguments as { interruptId?: unknown } | null)?.interruptId;
    if (request.kind === 'QUESTION' && typeof interruptId === 'string') {
      const answer = work.answers.get(request.id);
      resume.push(answer ? { interruptId, status: 'resolved', payload: answer.answer } : { interruptId, status: 'cancelled' });
    } else if (request.kind === 'CLIENT_TOOL' && request.toolCallId && request.toolName) {
      const result = await context.callTool(request.toolName, (request.arguments ?? {}) as Record<string, unknown>, { toolCallId: request.toolCallId });
      const remoteId = request.toolCallId.slice(context.runId.length + 1);
      messages.push(
        {
          id: `${request.id}-call`,
          role: 'assistant',
          toolCalls: [{ id: remoteId, type: 'function', function: { name: request.toolName, arguments: JSON.stringify(request.arguments ?? {}) } }],
        },
        { id: `${request.id}-result`, role: 'tool', toolCallId: remoteId, content: JSON.stringify(result ?? null) },
      );
    }
  }
  return resume.length > 0 || messages.length > 0 ? { resume, messages } : null;
}

/** Asks a person each interrupt of the remote's, all at once: the run pauses until every one is answered. */
async function askAll(context: AgentContext, interrupts: readonly Interrupt[]): Promise<void> {
  let pause: unknown = null;
  for (const interrupt of interrupts) {
    try {
      await context.ask({
        id: interrupt.id,
        prompt: interrupt.message ?? interrupt.reason,
        ...(interrupt.responseSchema && { answerSchema: interrupt.responseSchema }),
        details: { interruptId: interrupt.id, reason: interrupt.reason, ...(interrupt.toolCallId && { toolCallId: interrupt.toolCallId }) },
      });
    } catch (error) {
      // The first question pauses the run; the others are still asked, so that all are open.
      if (!context.signal.aborted) throw error;
      pause ??= error;
    }
  }
  if (pause) throw pause;
}

function inputFor(context: AgentContext, continued: Continuation | null): RunAgentInput {
  const messages: Message[] = context.history.map((message) => ({
    id: message.id,
    role: message.role === 'USER' ? 'user' : 'assistant',
    content: message.text,
  }));
  return {
    threadId: context.conversationId,
    runId: context.runId,
    messages: [...messages, ...(continued?.messages ?? [])],
    ...(continued && continued.resume.length > 0 && { resume: continued.resume }),
    // The frontend's tools: a call of one is executed by the client, through the gateway.
    tools: context.tools
      .filter((tool) => tool.executedBy === 'client')
      .map((tool) => ({ name: tool.name, description: tool.description, parameters: tool.inputSchema })),
    context: [],
    state: {},
    forwardedProps: { surface: context.input.surface, projectId: context.input.projectId, context: context.input.context },
  };
}

/** What a failure of the remote means for the run. */
function remoteError(id: string, error: unknown): AgentError {
  if (error instanceof AgentError) return error;
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number' && status < 500 && status !== 408 && status !== 429) {
    return new AgentError('REMOTE_AGENT_ERROR', `The remote agent ${id} refused the run (HTTP ${status}).`, false);
  }
  if (status === 429) return new AgentError('RATE_LIMITED', `The remote agent ${id} is rate limiting runs; retry shortly.`, true);
  // 5xx, refused or reset connections, a stream cut short.
  return new AgentError('UNAVAILABLE', `The remote agent ${id} is unavailable; retry shortly.`, true);
}

/** Turns AG-UI events into the run's events; `apply` resolves with the interrupts to ask once the remote run finished. */
class Translator {
  private readonly toolCalls = new Map<string, { name: string; args: string }>();
  private readonly reasoning = new Map<string, string>();

  constructor(private readonly context: AgentContext) {}

  async apply(event: BaseEvent): Promise<{ interrupts: Interrupt[] } | false> {
    const { context } = this;
    const fields = event as BaseEvent & Record<string, unknown>;
    switch (event.type) {
      case EventType.TEXT_MESSAGE_CONTENT:
        if (typeof fields['delta'] === 'string') await context.stream(fields['delta']);
        return false;
      case EventType.TOOL_CALL_START:
        this.toolCalls.set(String(fields['toolCallId']), { name: String(fields['toolCallName']), args: '' });
        return false;
      case EventType.TOOL_CALL_ARGS: {
        const call = this.toolCalls.get(String(fields['toolCallId']));
        if (call) call.args += String(fields['delta'] ?? '');
        return false;
      }
      case EventType.TOOL_CALL_END: {
        const id = String(fields['toolCallId']);
        const call = this.toolCalls.get(id);
        if (!call) return false;
        this.toolCalls.delete(id);
        const args = parsed(call.args || 'null');
        if (context.tools.some((tool) => tool.name === call.name && tool.executedBy === 'client')) {
          // The frontend runs it: a CLIENT_TOOL request, which pauses the run until it answers.
          await context.callTool(call.name, (args ?? {}) as Record<string, unknown>, { toolCallId: this.qualified(id) });
          return false;
        }
        await context.reportToolCall({ toolCallId: this.qualified(id), toolName: call.name, arguments: args });
        return false;
      }
      case EventType.TOOL_CALL_RESULT:
        await context.reportToolResult(this.qualified(String(fields['toolCallId'])), { result: parsed(String(fields['content'] ?? 'null')) });
        return false;
      case EventType.REASONING_MESSAGE_CONTENT: {
        const id = String(fields['messageId']);
        this.reasoning.set(id, (this.reasoning.get(id) ?? '') + String(fields['delta'] ?? ''));
        return false;
      }
      case EventType.REASONING_MESSAGE_END: {
        const id = String(fields['messageId']);
        const text = this.reasoning.get(id)?.trim();
        this.reasoning.delete(id);
        if (text) await context.think(text);
        return false;
      }
      case EventType.RUN_ERROR: {
        const code = typeof fields['code'] === 'string' && fields['code'] ? fields['code'] : 'REMOTE_AGENT_ERROR';
        throw new AgentError(code, String(fields['message'] ?? 'The remote agent failed.'), false);
      }
      case EventType.RUN_FINISHED: {
        const outcome = fields['outcome'] as { type?: string; interrupts?: Interrupt[] } | undefined;
        return { interrupts: outcome?.type === 'interrupt' ? (outcome.interrupts ?? []) : [] };
      }
      default:
        return false;
    }
  }

  /** Remote tool-call ids repeat across runs; the run's id makes them unique in the conversation. */
  private qualified(toolCallId: string): string {
    return `${this.context.runId}:${toolCallId}`;
  }
}

/**
 * fetch, with a response body that ends (rather than errors) when the connection breaks. On a
 * broken stream HttpAgent cancels the body and rethrows the rejection of that cancel where
 * nobody catches it: an unhandled rejection that would take the whole process down. A body that
 * just ends reads as a run that stopped short of RUN_FINISHED, which fails the run UNAVAILABLE.
 */
async function endingQuietly(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  if (!response.body) return response;
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch {
        controller.close();
      }
    },
    cancel: (reason) => reader.cancel(reason).catch(() => undefined),
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** A tool's arguments or result as JSON when they are, else as the text they are. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
