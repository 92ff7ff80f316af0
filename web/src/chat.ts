/**
 * The conversation on screen, built from events: the transcript (each reply streaming in token
 * by token under the name of the agent writing it, with its artifacts) and the timeline of the
 * runs (thinking, tool calls with arguments and results, handoffs, how each run ended).
 */
import { renderArtifact } from './artifacts.ts';
import { h, json, uniqueId } from './dom.ts';
import type { AgentEvent } from './follower.ts';
import type { ConversationHistoryQuery, PendingInputFragment } from './gql/graphql.ts';
import { InputRequestsView, type Respond } from './input-requests.ts';

type HistoryConversation = NonNullable<ConversationHistoryQuery['conversation']>;
type HistoryMessage = HistoryConversation['messages'][number];
type HistoryRun = HistoryConversation['runs'][number];

interface Reply {
  article: HTMLElement;
  label: HTMLElement;
  text: HTMLElement;
  artifacts: HTMLElement;
  agentId: string;
  written: boolean;
}

interface RunView {
  reply: Reply | null;
  finished: boolean;
}

export interface ChatViewOptions {
  agentName(agentId: string | null | undefined): string;
  /** The names of the files attached to a user message. */
  attachmentNames(messageId: string): readonly string[];
  /** Called whenever the set of unfinished runs changes. */
  onActiveRunsChange(runIds: readonly string[]): void;
  /** Answers an input request; resolves with what went wrong, or null. */
  respond: Respond;
}

export class ChatView {
  readonly transcript: HTMLElement;
  readonly timeline: HTMLOListElement;
  private readonly runs = new Map<string, RunView>();
  private readonly messages = new Map<string, HTMLElement>();
  private readonly tools = new Map<string, { status: HTMLElement; body: HTMLElement }>();
  private readonly requests: InputRequestsView;
  /** The input requests shown, by run. */
  private readonly requestsOfRun = new Map<string, string[]>();
  private readonly empty: HTMLElement;

  constructor(private readonly options: ChatViewOptions) {
    this.empty = h('p', { class: 'empty' }, 'Ask anything. Pick a surface above to talk to a pillar liaison directly.');
    this.transcript = h('div', { class: 'transcript', role: 'log', 'aria-label': 'Transcript', 'aria-live': 'polite' }, this.empty);
    this.timeline = h('ol', { class: 'timeline' });
    this.requests = new InputRequestsView(options.respond);
  }

  /** Requests still open that the events shown do not hold (a conversation reopened from its stored messages). */
  showPending(requests: readonly PendingInputFragment[]): void {
    for (const request of requests) this.showRequest(request);
  }

  private showRequest(request: PendingInputFragment): void {
    const item = this.requests.show(request, this.options.agentName(request.agentId));
    if (!item) return;
    this.requestsOfRun.set(request.runId, [...(this.requestsOfRun.get(request.runId) ?? []), request.id]);
    this.timeline.append(item);
    this.scrollTimeline();
  }

  reset(): void {
    this.runs.clear();
    this.messages.clear();
    this.tools.clear();
    this.requests.clear();
    this.requestsOfRun.clear();
    this.transcript.replaceChildren(this.empty);
    this.timeline.replaceChildren();
    this.emitActiveRuns();
  }

  /** Runs that have started (or were sent) and not ended. */
  activeRunIds(): string[] {
    return [...this.runs].filter(([, run]) => !run.finished).map(([runId]) => runId);
  }

  /** A run the page just created: shows Stop at once, before its first event arrives. */
  expectRun(runId: string): void {
    this.run(runId);
  }

  showUserMessage(message: { id: string; text: string }): void {
    const fileNames = this.options.attachmentNames(message.id);
    let article = this.messages.get(message.id);
    if (!article) {
      const labelId = uniqueId('message');
      article = h(
        'article',
        { class: 'message user', 'aria-labelledby': labelId, 'data-message-id': message.id },
        h('header', { id: labelId }, 'You'),
        h('div', { class: 'text' }, message.text),
      );
      this.messages.set(message.id, article);
      this.add(article);
    }
    if (fileNames.length > 0 && !article.querySelector('.files')) {
      article.append(
        h(
          'ul',
          { class: 'files', 'aria-label': 'Attached files' },
          fileNames.map((name) => h('li', {}, `Attached: ${name}`)),
        ),
      );
    }
  }

  /**
   * A reopened conversation's stored messages, and how its runs without a reply ended: what
   * stands in for its events once the log no longer holds them.
   */
  showHistory(messages: readonly HistoryMessage[], runs: readonly HistoryRun[]): void {
    const endings = new Map(runs.map((run) => [run.userMessageId, run]));
    for (const message of messages) {
      if (message.role === 'USER') {
        this.showUserMessage(message);
        const run = endings.get(message.id);
        if (run && (run.status === 'CANCELLED' || run.status === 'FAILED')) {
          this.add(h('p', { class: `note ${run.status.toLowerCase()}` }, run.status === 'CANCELLED' ? 'Stopped.' : 'The run failed.'));
        }
      } else {
        const reply = this.newReply(message.agentId ?? 'guide');
        reply.text.textContent = message.text;
        reply.written = true;
        reply.article.setAttribute('aria-busy', 'false');
        if (message.runId) this.runs.set(message.runId, { reply, finished: true });
      }
    }
    if (messages.length > 0) this.addTimeline('note', `Reopened with ${messages.length} stored message${messages.length === 1 ? '' : 's'}.`);
  }

  apply(event: AgentEvent): void {
    const run = this.run(event.runId);
    const who = this.options.agentName(event.agentId);
    switch (event.__typename) {
      case 'MessageCreated':
        this.showUserMessage(event.message);
        break;
      case 'AgentStarted':
        this.addTimeline('started', `${who} started.`);
        this.replyOf(run, event.agentId ?? 'guide');
        break;
      case 'AgentThinking':
        this.addTimeline('thinking', `${who} is thinking: ${event.text}`);
        break;
      case 'AgentHandoff': {
        this.addTimeline(
          'handoff',
          `Handoff: ${this.options.agentName(event.fromAgentId)} → ${this.options.agentName(event.toAgentId)}. ${event.handoffReason}`,
        );
        // The reply, not written yet, will come from the agent handed to.
        if (run.reply && !run.reply.written) this.relabel(run.reply, event.toAgentId);
        break;
      }
      case 'ToolExecuting':
        this.toolStarted(event, who);
        break;
      case 'ToolCompleted':
        this.toolCompleted(event, who);
        break;
      case 'AgentToken': {
        const reply = this.replyOf(run, event.agentId ?? 'guide', true);
        reply.text.append(event.delta);
        reply.written = true;
        this.scrollToEnd();
        break;
      }
      case 'AgentArtifact': {
        const reply = this.replyOf(run, event.agentId ?? 'guide');
        reply.artifacts.append(renderArtifact(event));
        this.addTimeline(
          'made-artifact',
          `${who} made ${event.kind === 'VISUALIZATION' ? 'a chart' : event.kind === 'TABLE' ? 'a table' : 'an artifact'}: ${event.title}`,
        );
        this.scrollToEnd();
        break;
      }
      case 'AgentCompleted': {
        const reply = this.replyOf(run, event.agentId ?? 'guide');
        // A reply always holds its tokens; a run that streamed none still shows its message.
        if (!reply.written && event.message.text) reply.text.textContent = event.message.text;
        this.finish(run, 'completed', `${who} completed the reply.`);
        break;
      }
      case 'AgentFailed':
        this.finish(run, 'failed', `The run failed (${event.error.code}): ${event.error.message}`);
        break;
      case 'AgentCancelled':
        this.finish(run, 'cancelled', `Stopped${event.reason ? `: ${event.reason}` : '.'}`);
        break;
      case 'AgentInputRequested':
        this.showRequest(event.request);
        break;
      case 'AgentInputReceived':
        this.requests.answered(event.requestId, event.response);
        break;
    }
    if (event.__typename === 'AgentCompleted' || event.__typename === 'AgentFailed' || event.__typename === 'AgentCancelled') {
      this.requests.closed(event.runId, (runId) => this.requestsOfRun.get(runId) ?? []);
    }
  }

  private run(runId: string): RunView {
    let run = this.runs.get(runId);
    if (!run) {
      run = { reply: null, finished: false };
      this.runs.set(runId, run);
      this.emitActiveRuns();
    }
    return run;
  }

  private finish(run: RunView, how: 'completed' | 'failed' | 'cancelled', text: string): void {
    this.addTimeline(how, text);
    if (run.reply) {
      run.reply.article.setAttribute('aria-busy', 'false');
      run.reply.article.dataset['status'] = how;
      if (how !== 'completed') run.reply.article.append(h('p', { class: `note ${how}` }, text));
      if (how === 'cancelled' && !run.reply.written) run.reply.text.textContent = '';
    } else if (how !== 'completed') {
      this.add(h('p', { class: `note ${how}` }, text));
    }
    run.finished = true;
    this.emitActiveRuns();
    this.scrollToEnd();
  }

  /** The run's reply, made (or relabelled while still empty) for the agent about to write it. */
  private replyOf(run: RunView, agentId: string, writing = false): Reply {
    if (!run.reply) run.reply = this.newReply(agentId, true);
    else if (run.reply.agentId !== agentId && writing) {
      if (run.reply.written) run.reply = this.newReply(agentId, true);
      else this.relabel(run.reply, agentId);
    }
    return run.reply;
  }

  private newReply(agentId: string, streaming = false): Reply {
    const labelId = uniqueId('reply');
    const label = h('header', { id: labelId }, this.options.agentName(agentId));
    const text = h('div', { class: 'text' });
    const artifacts = h('div', { class: 'artifacts' });
    const article = h(
      'article',
      { class: 'message agent', 'aria-labelledby': labelId, 'aria-busy': streaming ? 'true' : 'false', 'data-agent-id': agentId },
      label,
      text,
      artifacts,
    );
    this.add(article);
    return { article, label, text, artifacts, agentId, written: false };
  }

  private relabel(reply: Reply, agentId: string): void {
    reply.agentId = agentId;
    reply.label.textContent = this.options.agentName(agentId);
    reply.article.dataset['agentId'] = agentId;
  }

  private toolStarted(event: Extract<AgentEvent, { __typename: 'ToolExecuting' }>, who: string): void {
    const status = h('span', { class: 'status' }, 'running…');
    const body = h('div', { class: 'tool-body' }, h('h4', {}, 'Arguments'), h('pre', { class: 'json' }, json(event.arguments)));
    const item = h(
      'li',
      { class: 'event tool', 'data-tool-call-id': event.toolCallId },
      h('details', {}, h('summary', {}, `${who} called `, h('code', {}, event.toolName), ' · ', status), body),
    );
    this.tools.set(event.toolCallId, { status, body });
    this.timeline.append(item);
    this.scrollTimeline();
  }

  private toolCompleted(event: Extract<AgentEvent, { __typename: 'ToolCompleted' }>, who: string): void {
    let tool = this.tools.get(event.toolCallId);
    if (!tool) {
      // Its ToolExecuting was before what this page has seen.
      this.toolStarted({ ...event, __typename: 'ToolExecuting', arguments: null }, who);
      tool = this.tools.get(event.toolCallId)!;
    }
    tool.status.textContent = event.toolError ? `failed (${event.toolError.code}) in ${event.durationMs} ms` : `done in ${event.durationMs} ms`;
    tool.status.classList.toggle('failed', event.toolError !== null);
    if (event.toolError) tool.body.append(h('h4', {}, 'Error'), h('pre', { class: 'json error' }, event.toolError.message));
    else tool.body.append(h('h4', {}, 'Result'), h('pre', { class: 'json' }, json(event.result)));
  }

  private addTimeline(kind: string, text: string): void {
    this.timeline.append(h('li', { class: `event ${kind}` }, text));
    this.scrollTimeline();
  }

  private add(element: HTMLElement): void {
    this.empty.remove();
    this.transcript.append(element);
    this.scrollToEnd();
  }

  private scrollToEnd(): void {
    const scroller = this.transcript;
    scroller.scrollTop = scroller.scrollHeight;
  }

  private scrollTimeline(): void {
    const scroller = this.timeline.parentElement;
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
  }

  private emitActiveRuns(): void {
    this.options.onActiveRunsChange(this.activeRunIds());
  }
}
