/**
 * What a paused run asks, shown in the timeline with the means to answer it: Approve / Deny
 * (with a comment) for a tool call, the options or a text field for a question, a result for a
 * client tool. Answered (here, in another tab, or by anyone's AgentInputReceived), it shows the
 * answer instead; a run that ends first closes it.
 */
import { h, json } from './dom.ts';
import type { PendingInputFragment, RespondToAgentInput } from './gql/graphql.ts';

export type Respond = (input: RespondToAgentInput) => Promise<string | null>;

interface Shown {
  item: HTMLElement;
  controls: HTMLElement;
  status: HTMLElement;
  error: HTMLElement;
}

export class InputRequestsView {
  private readonly shown = new Map<string, Shown>();

  constructor(private readonly respond: Respond) {}

  clear(): void {
    this.shown.clear();
  }

  /** The request's timeline item (made once, also when it comes both from the log and a query). */
  show(request: PendingInputFragment, who: string): HTMLElement | null {
    if (this.shown.has(request.id)) return null;
    const status = h('p', { class: 'request-status' }, 'Waiting for you.');
    const error = h('p', { class: 'request-error', role: 'alert', hidden: true });
    const controls = h('div', { class: 'request-controls' }, this.controlsFor(request, error));
    const call =
      request.toolName === null
        ? null
        : h('div', { class: 'request-call' }, h('code', {}, request.toolName), h('pre', { class: 'json' }, json(request.arguments)));
    const item = h(
      'li',
      {
        class: 'event input-request',
        'data-request-id': request.id,
        'data-kind': request.kind,
        'data-status': 'PENDING',
        'aria-label': `${who} asks: ${request.prompt}`,
      },
      h('p', { class: 'request-prompt' }, `${who} asks: ${request.prompt}`),
      call,
      controls,
      status,
      error,
    );
    this.shown.set(request.id, { item, controls, status, error });
    return item;
  }

  /** An answer arrived (from any tab): the request shows it and takes no other. */
  answered(requestId: string, response: { approved?: boolean | null; answer?: unknown; comment?: string | null }): void {
    const shown = this.shown.get(requestId);
    if (!shown) return;
    const text =
      response.approved === true
        ? 'Approved.'
        : response.approved === false
          ? `Denied${response.comment ? `: ${response.comment}` : '.'}`
          : `Answered: ${typeof response.answer === 'string' ? response.answer : JSON.stringify(response.answer)}`;
    this.settle(shown, 'ANSWERED', text);
  }

  /** The run ended while the requests of it were open. */
  closed(runId: string, requestIdsOfRun: (runId: string) => readonly string[]): void {
    for (const id of requestIdsOfRun(runId)) {
      const shown = this.shown.get(id);
      if (shown && shown.item.dataset['status'] === 'PENDING') this.settle(shown, 'CLOSED', 'Closed: the run ended without an answer.');
    }
  }

  private settle(shown: Shown, status: string, text: string): void {
    shown.item.dataset['status'] = status;
    shown.controls.replaceChildren();
    shown.error.hidden = true;
    shown.status.textContent = text;
  }

  private controlsFor(request: PendingInputFragment, error: HTMLElement): HTMLElement[] {
    const send = async (input: Omit<RespondToAgentInput, 'requestId'>, buttons: HTMLButtonElement[]) => {
      for (const button of buttons) button.disabled = true;
      const problem = await this.respond({ requestId: request.id, ...input });
      error.hidden = problem === null;
      error.textContent = problem ?? '';
      for (const button of buttons) button.disabled = false;
    };
    if (request.kind === 'APPROVAL') {
      const comment = h('input', { type: 'text', 'aria-label': 'Comment', placeholder: 'Comment (why not?)' });
      const approve = h('button', { type: 'button', class: 'approve' }, 'Approve');
      const deny = h('button', { type: 'button', class: 'deny' }, 'Deny');
      const note = () => comment.value.trim() || null;
      approve.addEventListener('click', () => void send({ approved: true, comment: note() }, [approve, deny]));
      deny.addEventListener('click', () => void send({ approved: false, comment: note() }, [approve, deny]));
      return [comment, approve, deny];
    }
    if (request.options && request.options.length > 0) {
      const buttons = request.options.map((option) => h('button', { type: 'button', class: 'option' }, option));
      for (const [index, button] of buttons.entries()) button.addEventListener('click', () => void send({ answer: request.options![index] }, buttons));
      return buttons;
    }
    // A free answer: JSON when it reads as JSON (a schema's object, a client tool's result), else text.
    const field = h('textarea', {
      'aria-label': 'Answer',
      rows: 2,
      placeholder: request.kind === 'CLIENT_TOOL' ? 'The tool\u2019s result (JSON)' : 'Your answer',
    });
    const submit = h('button', { type: 'button', class: 'answer' }, request.kind === 'CLIENT_TOOL' ? 'Send result' : 'Answer');
    submit.addEventListener('click', () => void send({ answer: parsedAnswer(field.value) }, [submit]));
    return [field, submit];
  }
}

function parsedAnswer(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text.trim();
  }
}
