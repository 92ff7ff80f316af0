/**
 * The chat page: sign in, pick a surface, talk to the agents, watch each run unfold, reopen
 * earlier conversations. Plain DOM over urql and graphql-ws with the generated typed documents.
 */
import './style.css';
import { ChatView } from './chat.ts';
import { createGatewayClient, type ConnectionState, type GatewayClient } from './client.ts';
import { h } from './dom.ts';
import { attachableBytes, fetchSendLimits } from './limits.ts';
import { EventFollower } from './follower.ts';
import type { ConversationsQuery, Surface } from './gql/graphql.ts';
import { Agents, CancelRun, ConversationHistory, Conversations, RespondToAgent, SendMessage } from './operations.ts';
import { DevTokenUnavailable, devSignIn, forgetPastedToken, pastedSession, rememberedPastedToken, rememberedUserId, type Session } from './session.ts';

const SURFACES: readonly { value: Surface; label: string; agent: string }[] = [
  { value: 'HOME', label: 'Home', agent: 'the guide' },
  { value: 'CONTENT', label: 'Content', agent: 'the Content liaison' },
  { value: 'INSIGHTS', label: 'Insights', agent: 'the Insights liaison' },
  { value: 'JOURNEY', label: 'Journey', agent: 'the Journey liaison' },
  { value: 'OUTCOMES', label: 'Outcomes', agent: 'the Outcomes liaison' },
];
const CONNECTION_TEXT: Record<ConnectionState | 'signed-out', string> = {
  'signed-out': 'Signed out',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
};
const GRAPHQL_URL = new URL('/graphql', location.href).href;

interface AttachedFile {
  name: string;
  content: string;
}

const state = {
  session: null as Session | null,
  client: null as GatewayClient | null,
  follower: null as EventFollower | null,
  agentNames: new Map<string, string>(),
  surface: 'HOME' as Surface,
  conversationId: null as string | null,
  /** The names of the files attached to each user message, by message id (from its run). */
  attachments: new Map<string, readonly string[]>(),
  files: [] as AttachedFile[],
  sending: false,
};

// ---- layout -------------------------------------------------------------------------------

const connection = h('span', { class: 'connection', role: 'status', 'aria-label': 'Connection', 'data-state': 'signed-out' }, 'Signed out');
const who = h('span', { class: 'who' });
const userBox = h('input', { type: 'text', 'aria-label': 'User id', autocomplete: 'username', required: true });
const signInForm = h('form', { class: 'sign-in', 'aria-label': 'Sign in', hidden: true }, userBox, h('button', { type: 'submit' }, 'Sign in'));
const switchUser = h('button', { type: 'button', class: 'link' }, 'Switch user');
const alertBox = h('div', { class: 'alert', role: 'alert' });

const surfaceButtons = SURFACES.map((surface) =>
  h('button', { type: 'button', 'aria-pressed': surface.value === state.surface ? 'true' : 'false', 'data-surface': surface.value }, surface.label),
);
const surfaceBar = h('div', { class: 'surfaces', role: 'group', 'aria-label': 'Surface' }, surfaceButtons);

const conversationList = h('ul', { class: 'conversation-list' });
const newConversationButton = h('button', { type: 'button', class: 'new-conversation' }, '+ New conversation');

const view = new ChatView({
  agentName: (agentId) => (agentId ? (state.agentNames.get(agentId) ?? agentId) : 'You'),
  attachmentNames: (messageId) => state.attachments.get(messageId) ?? [],
  onActiveRunsChange: (runIds) => {
    stopButton.hidden = runIds.length === 0;
  },
  respond: async (input) => {
    const client = state.client;
    if (!client) return 'Not connected.';
    // The answer shows when its AgentInputReceived arrives, in this tab as in any other.
    const result = await client.urql.mutation(RespondToAgent, { input }).toPromise();
    return result.error ? errorText(result.error) : null;
  },
});

const messageBox = h('textarea', { 'aria-label': 'Message', rows: 3, placeholder: 'Message the guide…' });
const fileInput = h('input', { type: 'file', multiple: true, class: 'visually-hidden', accept: '.csv,.tsv,.txt,.md,.json,text/*' });
const attachLabel = h('label', { class: 'attach button-like' }, 'Attach file…', fileInput);
const attachmentList = h('ul', { class: 'attachments', 'aria-label': 'Files to send' });
const stopButton = h('button', { type: 'button', class: 'stop', hidden: true }, 'Stop');
const sendButton = h('button', { type: 'submit', class: 'send' }, 'Send');
const composer = h(
  'form',
  { class: 'composer', 'aria-label': 'Composer' },
  attachmentList,
  messageBox,
  h('div', { class: 'actions' }, attachLabel, h('span', { class: 'spacer' }), stopButton, sendButton),
);

const app = document.getElementById('app')!;
app.replaceChildren(
  h('header', { class: 'top' }, h('h1', {}, 'Agent gateway'), connection, h('span', { class: 'spacer' }), who, switchUser, signInForm),
  h(
    'div',
    { class: 'layout' },
    h('nav', { class: 'sidebar', 'aria-label': 'Conversations' }, h('h2', {}, 'Conversations'), newConversationButton, conversationList),
    h('main', { class: 'chat' }, surfaceBar, alertBox, view.transcript, composer),
    h('section', { class: 'timeline-panel', 'aria-labelledby': 'timeline-heading' }, h('h2', { id: 'timeline-heading' }, 'Timeline'), view.timeline),
  ),
);

// ---- behaviour ----------------------------------------------------------------------------

function showError(message: string | null): void {
  alertBox.textContent = message ?? '';
  alertBox.hidden = message === null;
}
showError(null);

function setConnection(value: ConnectionState | 'signed-out'): void {
  connection.dataset['state'] = value;
  connection.textContent = CONNECTION_TEXT[value];
}

function selectSurface(surface: Surface): void {
  state.surface = surface;
  for (const button of surfaceButtons) button.setAttribute('aria-pressed', String(button.dataset['surface'] === surface));
  messageBox.placeholder = `Message ${SURFACES.find((entry) => entry.value === surface)?.agent ?? 'the guide'}…`;
}
for (const button of surfaceButtons) button.addEventListener('click', () => selectSurface(button.dataset['surface'] as Surface));

function updateComposer(): void {
  sendButton.disabled = state.sending || state.client === null || messageBox.value.trim() === '';
}
messageBox.addEventListener('input', updateComposer);
messageBox.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

function renderAttachments(): void {
  attachmentList.replaceChildren(
    ...state.files.map((file) =>
      h(
        'li',
        {},
        `${file.name} (${formatBytes(byteLength(file.content))})`,
        h(
          'button',
          {
            type: 'button',
            class: 'link',
            'aria-label': `Remove ${file.name}`,
            onclick: () => {
              state.files = state.files.filter((entry) => entry !== file);
              renderAttachments();
            },
          },
          '✕',
        ),
      ),
    ),
  );
}

fileInput.addEventListener('change', async () => {
  const chosen = [...(fileInput.files ?? [])];
  fileInput.value = '';
  let allowedBytes: number;
  try {
    // Asked each time: files beyond this gateway's limits would be refused.
    allowedBytes = attachableBytes(await fetchSendLimits());
  } catch (error) {
    showError(`Could not attach files: ${(error as Error).message}`);
    return;
  }
  for (const file of chosen) {
    const content = await file.text();
    const others = state.files.filter((entry) => entry.name !== file.name);
    const total = [...others, { content }].reduce((sum, entry) => sum + byteLength(entry.content), 0);
    if (total > allowedBytes) {
      showError(`${file.name} is too large: attached files may add up to ${formatBytes(allowedBytes)}.`);
      continue;
    }
    state.files = [...others, { name: file.name, content }];
  }
  renderAttachments();
});

composer.addEventListener('submit', (event) => {
  event.preventDefault();
  void send();
});

async function send(): Promise<void> {
  const client = state.client;
  const text = messageBox.value.trim();
  if (!client || !text || state.sending) return;
  state.sending = true;
  updateComposer();
  showError(null);
  const files = state.files;
  const input = {
    text,
    surface: state.surface,
    conversationId: state.conversationId,
    // The same id on a retry: the gateway then returns the first send's message and run.
    clientMessageId: newId(),
    context: files.length > 0 ? { files } : null,
  };
  try {
    let result = await client.urql.mutation(SendMessage, { input }).toPromise();
    if (codeOf(result.error) === 'UNAUTHENTICATED' && state.session?.source === 'dev') {
      // A development token lasts a day, and none survives a restart of the gateway: get another.
      state.session = await devSignIn(state.session.userId);
      result = await client.urql.mutation(SendMessage, { input }).toPromise();
    }
    const payload = result.data?.sendAgentMessage;
    if (!payload) {
      showError(errorText(result.error));
      return;
    }
    messageBox.value = '';
    state.files = [];
    renderAttachments();
    state.attachments.set(
      payload.message.id,
      files.map((file) => file.name),
    );
    view.showUserMessage(payload.message);
    view.expectRun(payload.run.id);
    if (state.follower?.conversationId !== payload.conversation.id) {
      state.conversationId = payload.conversation.id;
      showInAddress(payload.conversation.id);
      follow(payload.conversation.id, payload.afterSeq);
    } else state.follower.start(); // in case an error had ended its subscription
    void refreshConversations();
  } finally {
    state.sending = false;
    updateComposer();
  }
}

stopButton.addEventListener('click', async () => {
  const client = state.client;
  if (!client) return;
  stopButton.disabled = true;
  try {
    const results = await Promise.all(view.activeRunIds().map((runId) => client.urql.mutation(CancelRun, { runId }).toPromise()));
    const failed = results.find((result) => result.error);
    if (failed) showError(errorText(failed.error));
  } finally {
    stopButton.disabled = false;
  }
});

function follow(conversationId: string, afterSeq: number): void {
  state.follower?.stop();
  const client = state.client;
  if (!client) return;
  const follower = new EventFollower(client.urql, conversationId, afterSeq, {
    event: (event) => {
      view.apply(event);
      if (event.__typename === 'AgentCompleted' || event.__typename === 'AgentFailed' || event.__typename === 'AgentCancelled') {
        void refreshConversations();
      }
    },
    expired: () => void openConversation(conversationId, { fromLog: false }),
    error: (message) => showError(message),
  });
  state.follower = follower;
  follower.start();
}

/**
 * Shows a conversation as it happened: by default replayed from its event log (the replies with
 * their artifacts, the tool calls, the attachments, how each run ended), then followed live.
 * When the log no longer holds its start, the stored messages stand in for it.
 */
async function openConversation(id: string, { fromLog = true } = {}): Promise<void> {
  const client = state.client;
  if (!client) return;
  state.follower?.stop();
  state.follower = null;
  state.conversationId = id;
  showInAddress(id);
  view.reset();
  showError(null);
  markCurrentConversation();
  const result = await client.urql.query(ConversationHistory, { id, last: 100 }, { requestPolicy: 'network-only' }).toPromise();
  const conversation = result.data?.conversation;
  if (state.conversationId !== id) return; // another was opened meanwhile
  if (!conversation) {
    showError(result.error ? errorText(result.error) : 'That conversation does not exist (any more).');
    return;
  }
  for (const run of conversation.runs) state.attachments.set(run.userMessageId, run.attachmentNames);
  // A follow-up goes where the last message went.
  const lastRun = conversation.runs.at(-1);
  if (lastRun) selectSurface(lastRun.surface);
  if (fromLog) {
    follow(id, 0);
    return;
  }
  view.showHistory(conversation.messages, conversation.runs);
  view.showPending(conversation.pendingInputs);
  follow(id, conversation.lastSeq);
}

/** The conversation in the address (?conversation=<id>): a reload or a shared link reopens it. */
function conversationInAddress(): string | null {
  return new URL(location.href).searchParams.get('conversation');
}

function showInAddress(conversationId: string | null, how: 'push' | 'replace' = 'push'): void {
  const url = new URL(location.href);
  if (conversationId) url.searchParams.set('conversation', conversationId);
  else url.searchParams.delete('conversation');
  if (url.href === location.href) return;
  if (how === 'push') history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

// Back and Forward move between the conversations opened.
window.addEventListener('popstate', () => {
  const id = conversationInAddress();
  if (id === state.conversationId) return;
  if (id) void openConversation(id);
  else newConversation();
});

function newConversation(): void {
  state.follower?.stop();
  state.follower = null;
  state.conversationId = null;
  showInAddress(null);
  view.reset();
  showError(null);
  markCurrentConversation();
  messageBox.focus();
}
newConversationButton.addEventListener('click', newConversation);

type ConversationSummary = ConversationsQuery['conversations'][number];

async function refreshConversations(): Promise<void> {
  const client = state.client;
  if (!client) return;
  const result = await client.urql.query(Conversations, { first: 30 }).toPromise();
  if (!result.data || client !== state.client) return;
  conversationList.replaceChildren(...result.data.conversations.map(conversationItem));
  markCurrentConversation();
}

function conversationItem(conversation: ConversationSummary): HTMLElement {
  const updated = new Date(conversation.updatedAt);
  const title = conversation.title ?? 'Untitled';
  // Titles often start alike ("Compare the content…"): the surface and files of the last message
  // and the time tell them apart, and the whole title is a hover away.
  const lastRun = conversation.runs.at(-1);
  const details = [
    lastRun ? (SURFACES.find((surface) => surface.value === lastRun.surface)?.label ?? lastRun.surface) : null,
    ...(lastRun?.attachmentNames ?? []),
    updated.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' }),
  ].filter((detail) => detail !== null);
  return h(
    'li',
    {},
    h(
      'button',
      { type: 'button', title, 'data-conversation-id': conversation.id, onclick: () => void openConversation(conversation.id) },
      h('span', { class: 'title' }, title),
      h('span', { class: 'details' }, h('time', { datetime: conversation.updatedAt }, details.join(' · '))),
      conversation.activeRun ? h('span', { class: 'badge' }, conversation.activeRun.status === 'WAITING' ? 'waiting for you' : 'running') : null,
    ),
  );
}

function markCurrentConversation(): void {
  for (const button of conversationList.querySelectorAll<HTMLButtonElement>('button[data-conversation-id]')) {
    if (button.dataset['conversationId'] === state.conversationId) button.setAttribute('aria-current', 'true');
    else button.removeAttribute('aria-current');
  }
}

// ---- signing in ---------------------------------------------------------------------------

let clientGeneration = 0;

async function start(session: Session): Promise<void> {
  state.follower?.stop();
  state.follower = null;
  state.client?.dispose();
  state.session = session;
  who.textContent = `Signed in as ${session.userId}`;
  signInForm.hidden = true;
  switchUser.hidden = false;
  // The client connects at once, so its first state arrives before `client` below is assigned.
  const generation = ++clientGeneration;
  const client = createGatewayClient({
    url: GRAPHQL_URL,
    tokens: {
      current: () => state.session?.token ?? '',
      renew: async () => {
        const current = state.session;
        if (current?.source === 'dev') state.session = await devSignIn(current.userId);
        return state.session?.token ?? '';
      },
    },
    onConnectionState: (value) => {
      if (generation === clientGeneration) setConnection(value);
    },
  });
  state.client = client;
  // A dropped socket ends the subscription; once back, it resumes from the last seq seen.
  client.ws.on('closed', () => state.follower?.pause());
  client.ws.on('connected', () => state.follower?.start());
  updateComposer();
  // Agents' names first: a conversation reopened from the address labels its replies with them.
  const agents = await client.urql.query(Agents, {}).toPromise();
  if (agents.error) showError(errorText(agents.error));
  for (const agent of agents.data?.agents ?? []) state.agentNames.set(agent.id, agent.name);
  const inAddress = conversationInAddress();
  if (inAddress) void openConversation(inAddress);
  else newConversation();
  await refreshConversations();
}

async function signIn(userId: string): Promise<void> {
  try {
    await start(await devSignIn(userId));
  } catch (error) {
    if (error instanceof DevTokenUnavailable) askForToken(error.message);
    else {
      showError(`Could not sign in: ${(error as Error).message}`);
      showSignInForm(userId);
    }
  }
}

function showSignInForm(prefill: string): void {
  userBox.value = prefill;
  signInForm.hidden = false;
  switchUser.hidden = true;
  userBox.focus();
}

/** Production: no dev tokens, so the user id box takes a JWT instead. */
function askForToken(message: string): void {
  showError(message);
  userBox.setAttribute('aria-label', 'Token');
  userBox.placeholder = 'Paste a JWT';
  userBox.dataset['mode'] = 'token';
  showSignInForm('');
}

signInForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const value = userBox.value.trim();
  if (!value) return;
  showError(null);
  // The conversation in the address was the previous user's.
  showInAddress(null, 'replace');
  if (userBox.dataset['mode'] === 'token') {
    try {
      void start(pastedSession(value));
    } catch (error) {
      showError((error as Error).message);
    }
  } else void signIn(value);
});
switchUser.addEventListener('click', () => {
  forgetPastedToken();
  showSignInForm(state.session?.userId ?? '');
});

// ---- helpers ------------------------------------------------------------------------------

function errorText(
  error: { graphQLErrors: readonly { message: string; extensions?: Record<string, unknown> }[]; networkError?: Error | undefined; message: string } | undefined,
): string {
  if (!error) return 'Something went wrong.';
  const first = error.graphQLErrors[0];
  if (first) return `${first.message}${first.extensions?.['code'] ? ` (${String(first.extensions['code'])})` : ''}`;
  return error.networkError ? `The gateway could not be reached: ${error.networkError.message}` : error.message;
}

function codeOf(error: { graphQLErrors: readonly { extensions?: Record<string, unknown> }[] } | undefined): unknown {
  return error?.graphQLErrors[0]?.extensions?.['code'];
}

function newId(): string {
  // crypto.randomUUID needs a secure context; a LAN address over http is not one.
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

const byteLength = (text: string) => new TextEncoder().encode(text).length;

function formatBytes(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

setConnection('signed-out');
updateComposer();
const pasted = rememberedPastedToken();
if (pasted) void start(pastedSession(pasted));
else void signIn(rememberedUserId());
