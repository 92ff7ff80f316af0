/**
 * The chat page in a real browser (Debian's headless Chromium through playwright-core) against
 * real gateways started without AUTH_JWT_SECRET, so the page signs in through /auth/dev-token.
 * Every wait is on something the page shows or the server emits; nothing sleeps.
 */
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { startTestServer } from '../support/server.ts';
import { ensurePageBuilt, launchChromium } from './browser.ts';

const SALES_CSV = [
  'month,region,revenue,units',
  '2026-01-01,north,120,12',
  '2026-02-01,south,135,15',
  '2026-03-01,north,160,17',
  '2026-04-01,south,150,14',
  '2026-05-01,north,172,19',
].join('\n');

/** Many columns make a long reply: plenty of tokens still to come when the connection drops. */
const WIDE_CSV = (() => {
  const columns = Array.from({ length: 16 }, (_, index) => `metric_${index + 1}`);
  const rows = Array.from({ length: 8 }, (_, row) => columns.map((_, column) => (row + 1) * (column + 3)).join(','));
  return [columns.join(','), ...rows].join('\n');
})();

describe('the chat page in a real browser', () => {
  let browser: Browser;
  /** Agents step every 15 ms: replies visibly stream. */
  let server: RunningServer;
  /** Agents step every 10 minutes: a run stays active until it is stopped. */
  let slowServer: RunningServer;
  const contexts: BrowserContext[] = [];
  /** Uncaught exceptions in any page of the current test: there must be none. */
  let pageErrors: string[] = [];

  beforeAll(async () => {
    await ensurePageBuilt();
    [browser, server, slowServer] = await Promise.all([
      launchChromium(),
      startTestServer({ AGENT_STEP_DELAY_MS: '15' }, { withoutSecret: true }),
      startTestServer({ AGENT_STEP_DELAY_MS: '600000' }, { withoutSecret: true }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([server?.close(), slowServer?.close()]);
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') {
      for (const [index, page] of contexts.flatMap((context) => context.pages()).entries()) {
        const path = join(tmpdir(), `chat-page-failure-${Date.now()}-${index}.png`);
        await page.screenshot({ path, fullPage: true }).catch(() => undefined);
        console.error(`Screenshot of the failed page: ${path}`);
      }
    }
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    const errors = pageErrors;
    pageErrors = [];
    expect(errors, 'uncaught errors in the page').toEqual([]);
  });

  /** A fresh browser profile (so a new guest user) on the page, signed in and connected. */
  async function openPage(on: RunningServer, beforeLoad?: (page: Page) => void): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    // Fail a wait with its locator well before the test's own timeout.
    page.setDefaultTimeout(20_000);
    const problems: string[] = [];
    page.on('pageerror', (error) => {
      problems.push(`page error: ${error.message}`);
      pageErrors.push(error.message);
    });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    onTestFailed(() => {
      if (problems.length > 0) console.error(problems.join('\n'));
    });
    beforeLoad?.(page);
    await page.goto(on.url);
    await connectionState(page, 'Connected');
    await page.getByText(/^Signed in as guest-/).waitFor();
    return page;
  }

  const connectionState = (page: Page, text: string) => page.getByRole('status', { name: 'Connection' }).getByText(text, { exact: true }).waitFor();

  /** A token for the page's own (guest) user, from the same dev-token endpoint the page uses. */
  async function tokenOfPageUser(page: Page, on: RunningServer): Promise<string> {
    const userId = await page.evaluate(() => localStorage.getItem('agent-gateway.userId'));
    expect(userId).toMatch(/^guest-/);
    const response = await fetch(`${on.url}/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId }),
    });
    return ((await response.json()) as { token: string }).token;
  }

  async function storedConversation(page: Page, on: RunningServer) {
    const gql = userClient(on.url, await tokenOfPageUser(page, on));
    const result = await gql<{ conversations: { id: string; messages: { role: string; text: string; agentId: string | null }[] }[] }>(
      '{ conversations(first: 1) { id messages(last: 10) { role text agentId } } }',
    );
    expect(result.errors).toBeUndefined();
    const conversation = result.data?.conversations[0];
    expect(conversation).toBeDefined();
    return conversation!;
  }

  async function ask(page: Page, surface: string, text: string, file?: { name: string; content: string }) {
    await page.getByRole('button', { name: surface, exact: true }).click();
    expect(await page.getByRole('button', { name: surface, exact: true }).getAttribute('aria-pressed')).toBe('true');
    if (file) {
      await page.getByLabel('Attach file').setInputFiles({ name: file.name, mimeType: 'text/csv', buffer: Buffer.from(file.content) });
      await page.getByRole('list', { name: 'Files to send' }).getByText(file.name).waitFor();
    }
    await page.getByRole('textbox', { name: 'Message' }).fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
  }

  it('is served at / from the build, its content-hashed assets cacheable for good', async () => {
    const index = await fetch(`${server.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const script = /<script type="module"[^>]* src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${server.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(`${server.url}/.source-hash`)).status).toBe(404);
  });

  it('answers a question about an attached CSV on Insights: streamed, with chart, table and tool calls; reopened after a reload', async () => {
    const page = await openPage(server);
    // Every change to the reply's text, as the page makes it: a streamed reply grows many times.
    await page.evaluate(() => {
      const lengths: number[] = [];
      Object.assign(window, { replyLengths: lengths });
      new MutationObserver(() => {
        const length = document.querySelector('[role=log] article.agent .text')?.textContent?.length;
        if (length !== undefined && length !== lengths.at(-1)) lengths.push(length);
      }).observe(document.querySelector('[role=log]')!, { subtree: true, childList: true, characterData: true });
    });

    await ask(page, 'Insights', 'What trends are in this data?', { name: 'sales.csv', content: SALES_CSV });

    const log = page.getByRole('log');
    await log.getByRole('article', { name: 'You' }).getByText('What trends are in this data?').waitFor();
    await log.getByRole('article', { name: 'You' }).getByText('sales.csv').waitFor();
    // The reply is complete (and with it the run), so Stop is gone; the Stop test below sees it offered.
    const reply = log.getByRole('article', { name: 'Insights liaison' });
    await reply.and(page.locator('[data-status="completed"]')).waitFor();
    await page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'hidden' });

    const replyText = (await reply.locator('.text').textContent()) ?? '';
    expect(replyText).toContain('sales.csv has 5 rows and 4 columns.');
    const stored = await storedConversation(page, server);
    expect(stored.messages.map((message) => message.role)).toEqual(['USER', 'AGENT']);
    expect(stored.messages[1]).toEqual({ role: 'AGENT', text: replyText, agentId: 'liaison.insights' });

    // It streamed in token by token: the text grew through many lengths to the whole reply.
    const lengths = await page.evaluate(() => (window as unknown as { replyLengths: number[] }).replyLengths);
    expect(lengths.length).toBeGreaterThan(10);
    expect(lengths.every((length, index) => index === 0 || length > lengths[index - 1]!)).toBe(true);
    expect(lengths.at(-1)).toBe(replyText.length);

    // The TABLE artifact as a table, the VISUALIZATION as a chart drawn by Vega.
    const table = reply.getByRole('table', { name: 'Profile of sales.csv' });
    await table.waitFor();
    expect(await table.getByRole('row').count()).toBe(5); // header + 4 columns
    await table.getByRole('cell', { name: 'revenue', exact: true }).waitFor();
    const chart = reply.getByRole('figure', { name: 'Chart of sales.csv' }).locator('.chart');
    await chart.and(page.locator('[data-rendered="true"]')).waitFor();
    const line = chart.locator('svg .mark-line path');
    await line.first().waitFor();
    expect(await line.first().getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+L/);
    expect(await chart.locator('svg').textContent()).toContain('Total revenue');

    // The timeline: the agent, its thinking, both tool calls with arguments and results (collapsed
    // until opened), the artifacts and the end of the run.
    const timeline = page.getByRole('region', { name: 'Timeline' });
    await timeline.getByText('Insights liaison started.').waitFor();
    await timeline.getByText('Insights liaison is thinking: Profiling sales.csv.').waitFor();
    const profileCall = timeline.getByRole('group').filter({ hasText: 'insights.profile_csv' });
    await profileCall.getByText(/done in \d+ ms/).waitFor();
    expect(await profileCall.getByText('"rowCount": 5').isVisible()).toBe(false);
    await profileCall.getByText('insights.profile_csv').click();
    await profileCall.getByText('"name": "sales.csv"').waitFor();
    await profileCall.getByText('"rowCount": 5').waitFor();
    await timeline
      .getByRole('group')
      .filter({ hasText: 'insights.chart_spec' })
      .getByText(/done in \d+ ms/)
      .waitFor();
    await timeline.getByText('Insights liaison made a chart: Chart of sales.csv').waitFor();
    await timeline.getByText('Insights liaison completed the reply.').waitFor();

    // The address names the conversation: a reload reopens it, replayed from its event log with
    // its attachment, table, chart and tool calls, on the surface it was on.
    const { id: conversationId } = await storedConversation(page, server);
    expect(new URL(page.url()).searchParams.get('conversation')).toBe(conversationId);
    await page.reload();
    await connectionState(page, 'Connected');
    await expectReopenedInsightsRun(page, replyText);

    // A new conversation leaves it; the sidebar (and Back) bring it back.
    await page.getByRole('button', { name: '+ New conversation' }).click();
    expect(new URL(page.url()).searchParams.get('conversation')).toBeNull();
    expect(await log.getByRole('article').count()).toBe(0);
    await page.getByRole('button', { name: 'Home', exact: true }).click();
    await page.goBack();
    await expectReopenedInsightsRun(page, replyText);
    await page.getByRole('button', { name: '+ New conversation' }).click();
    const earlier = page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /What trends are in this data\?/ });
    await earlier.getByText('Insights · sales.csv ·').waitFor();
    await earlier.click();
    expect(await earlier.getAttribute('aria-current')).toBe('true');
    await expectReopenedInsightsRun(page, replyText);
  });

  /** The conversation of the test above, as reopening shows it. */
  async function expectReopenedInsightsRun(page: Page, replyText: string) {
    const log = page.getByRole('log');
    const question = log.getByRole('article', { name: 'You' });
    await question.getByText('What trends are in this data?').waitFor();
    await question.getByText('Attached: sales.csv').waitFor();
    const reopened = log.getByRole('article', { name: 'Insights liaison' });
    await reopened.and(page.locator('[data-status="completed"]')).waitFor();
    expect(await reopened.locator('.text').textContent()).toBe(replyText);
    expect(await log.getByRole('article').count()).toBe(2);
    await reopened.getByRole('table', { name: 'Profile of sales.csv' }).waitFor();
    await reopened.getByRole('figure', { name: 'Chart of sales.csv' }).locator('.chart[data-rendered="true"] svg .mark-line path').first().waitFor();
    const timeline = page.getByRole('region', { name: 'Timeline' });
    await timeline
      .getByRole('group')
      .filter({ hasText: 'insights.profile_csv' })
      .getByText(/done in \d+ ms/)
      .waitFor();
    await timeline.getByText('Insights liaison completed the reply.').waitFor();
    expect(await page.getByRole('button', { name: 'Insights', exact: true }).getAttribute('aria-pressed')).toBe('true');
  }

  it('reads a CSV pasted after a question: the rows are the data, the question is not a header', async () => {
    const page = await openPage(server);
    const rows = ['month,revenue', '2026-04-01,170', '2026-05-01,182', '2026-06-01,205'];
    await ask(page, 'Insights', ['Here is more data, what is the trend?', ...rows].join('\n'));
    const reply = page.getByRole('log').getByRole('article', { name: 'Insights liaison' });
    await reply.and(page.locator('[data-status="completed"]')).waitFor();
    expect(await reply.locator('.text').textContent()).toContain('revenue rose from 170 to 205');
    const table = reply.getByRole('table');
    await table.getByRole('cell', { name: 'month', exact: true }).waitFor();
    expect(await table.getByText('Here is more data').count()).toBe(0);
  });

  it('shows an ANALYSIS artifact as sections and tables, not as JSON', async () => {
    const page = await openPage(server);
    await ask(page, 'Outcomes', 'We invest $100,000 and save $20,000 a month: what is the ROI?');
    const reply = page.getByRole('log').getByRole('article', { name: 'Outcomes liaison' });
    await reply.and(page.locator('[data-status="completed"]')).waitFor();
    const report = reply.getByRole('figure').first();
    await report.getByRole('heading', { name: 'Sections' }).waitFor();
    await report.getByRole('heading', { name: 'Metrics' }).waitFor();
    await report.getByRole('table').getByRole('columnheader', { name: 'Label' }).waitFor();
    expect(await report.locator('pre').count()).toBe(0);
    // The caption is the report's title; the body does not say it again.
    expect(await report.getByText('Title', { exact: true }).count()).toBe(0);
    // Nothing runs past the reply's right edge.
    const [figureBox, replyBox] = await Promise.all([report.boundingBox(), reply.boundingBox()]);
    expect(figureBox!.x + figureBox!.width).toBeLessThanOrEqual(replyBox!.x + replyBox!.width);
    expect(await report.evaluate((figure) => figure.scrollWidth <= figure.clientWidth)).toBe(true);
  });

  it('shows a handoff from the guide in the timeline and labels the reply with the liaison that wrote it', async () => {
    const page = await openPage(server);
    await ask(page, 'Home', 'Please map the steps of our onboarding workflow.');
    const timeline = page.getByRole('region', { name: 'Timeline' });
    await timeline.getByText('Guide started.').waitFor();
    await timeline.getByText('Handoff: Guide → Journey liaison. The message is about journey.').waitFor();
    const log = page.getByRole('log');
    await log.getByRole('article', { name: 'Journey liaison' }).and(page.locator('[data-status="completed"]')).waitFor();
    expect(await log.getByRole('article', { name: 'Guide' }).count()).toBe(0);
    const stored = await storedConversation(page, server);
    expect(stored.messages[1]?.agentId).toBe('liaison.journey');
    expect(await log.getByRole('article', { name: 'Journey liaison' }).locator('.text').textContent()).toBe(stored.messages[1]?.text);
  });

  it('stops a long run with the Stop button, and shows it stopped when reopened', async () => {
    const page = await openPage(slowServer);
    await ask(page, 'Home', 'Hello, who are you?');
    const log = page.getByRole('log');
    const stop = page.getByRole('button', { name: 'Stop' });
    await stop.waitFor();
    // The guide has started and is thinking; its next step is ten minutes away.
    const timeline = page.getByRole('region', { name: 'Timeline' });
    await timeline.getByText('Guide is thinking: Reading your message to decide who should answer.').waitFor();
    await stop.click();

    await log.getByRole('article', { name: 'Guide' }).and(page.locator('[data-status="cancelled"]')).waitFor();
    await log.getByText(/^Stopped/).waitFor();
    await stop.waitFor({ state: 'hidden' });
    await timeline.getByText(/^Stopped/).waitFor();
    const gql = userClient(slowServer.url, await tokenOfPageUser(page, slowServer));
    const runs = await gql<{ conversations: { runs: { status: string }[] }[] }>('{ conversations(first: 1) { runs { status } } }');
    expect(runs.data?.conversations[0]?.runs).toEqual([{ status: 'CANCELLED' }]);

    await page.reload();
    await connectionState(page, 'Connected');
    await page
      .getByRole('navigation', { name: 'Conversations' })
      .getByRole('button', { name: /Hello, who are you\?/ })
      .click();
    await log.getByRole('article', { name: 'You' }).getByText('Hello, who are you?').waitFor();
    await log.getByRole('article', { name: 'Guide' }).getByText('Stopped: Cancelled by the user.').waitFor();
    expect(await log.getByText(/^Stopped/).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Stop' }).isHidden()).toBe(true);
  });

  it('shows a dropped connection, reconnects, resumes with afterSeq and loses nothing', async () => {
    const gate = browserSocketGate(server);
    const cleanup: (() => unknown)[] = [() => gate.remove()];
    try {
      // What the page asks for over its WebSockets, from the first one on.
      const subscribed: { afterSeq?: number | null }[] = [];
      const page = await openPage(server, (page) =>
        page.on('websocket', (socket) =>
          socket.on('framesent', ({ payload }) => {
            const message = JSON.parse(String(payload)) as { type: string; payload?: { variables?: { afterSeq?: number | null } } };
            if (message.type === 'subscribe') subscribed.push(message.payload?.variables ?? {});
          }),
        ),
      );
      const log = page.getByRole('log');
      await ask(page, 'Insights', 'Profile this data please.', { name: 'wide.csv', content: WIDE_CSV });
      const reply = log.getByRole('article', { name: 'Insights liaison' });
      await reply.locator('.text').filter({ hasText: /\S/ }).waitFor(); // the first tokens are in

      // 1. The connection drops while the reply streams (a long one: unless this test stalls for
      // seconds, most of it is still to come), and stays down for the rest of the run.
      gate.dropAndBlock();
      await connectionState(page, 'Reconnecting…');
      const token = await tokenOfPageUser(page, server);
      const { id: conversationId } = await storedConversation(page, server);
      const client = wsClient(server.url, token);
      cleanup.push(() => client.dispose());
      const recorder = new EventRecorder(client, { conversationId, afterSeq: 0 });
      cleanup.push(() => recorder.stop());
      const firstRun = await recorder.untilTerminals(1);
      const firstCompleted = firstRun.at(-1)!;
      expect(firstCompleted.__typename).toBe('AgentCompleted');
      const firstReply: string = firstCompleted['message'].text;
      expect(tokensOf(firstRun)).toBe(firstReply);
      const textWhileAway = (await reply.locator('.text').textContent()) ?? '';
      expect(firstReply.startsWith(textWhileAway)).toBe(true);

      gate.unblock();
      await connectionState(page, 'Connected');
      await reply.and(page.locator('[data-status="completed"]')).waitFor();
      expect(await reply.locator('.text').textContent()).toBe(firstReply);
      await reply.getByRole('table', { name: 'Profile of wide.csv' }).waitFor();
      await reply.getByRole('figure', { name: 'Chart of wide.csv' }).locator('.chart[data-rendered="true"] svg').waitFor();
      // It subscribed again from the last seq it had seen, not from the start.
      expect(subscribed).toHaveLength(2);
      expect(subscribed[0]!.afterSeq).toBe(0); // the send's afterSeq: before the conversation's first event
      expect(subscribed[1]!.afterSeq).toBeGreaterThan(0);
      expect(subscribed[1]!.afterSeq).toBeLessThanOrEqual(firstCompleted.seq);

      // 2. Down again, the page sends (over HTTP) and a whole run happens while it cannot hear.
      gate.dropAndBlock();
      await connectionState(page, 'Reconnecting…');
      await ask(page, 'Home', 'Thanks! Who else can help me?');
      await log.getByRole('article', { name: 'You' }).getByText('Thanks! Who else can help me?').waitFor();
      const secondRun = (await recorder.untilTerminals(2)).filter((event) => event.seq > firstCompleted.seq);
      const secondCompleted = secondRun.at(-1)!;
      expect(secondCompleted.__typename).toBe('AgentCompleted');
      expect(await log.getByRole('article', { name: 'Guide' }).count()).toBe(0);

      gate.unblock();
      await connectionState(page, 'Connected');
      const guideReply = log.getByRole('article', { name: 'Guide' });
      await guideReply.and(page.locator('[data-status="completed"]')).waitFor();
      expect(await guideReply.locator('.text').textContent()).toBe(secondCompleted['message'].text);
      expect(tokensOf(secondRun)).toBe(secondCompleted['message'].text);
      expect(subscribed).toHaveLength(3);
      expect(subscribed[2]!.afterSeq).toBe(firstCompleted.seq);
      // Each message once: the user's two, the two replies.
      expect(await log.getByRole('article').count()).toBe(4);
    } finally {
      for (const step of cleanup.reverse()) await step();
    }
  });
});

const tokensOf = (events: AgentEvent[]) =>
  events
    .filter((event) => event.__typename === 'AgentToken')
    .map((event) => event['delta'] as string)
    .join('');

/**
 * Cuts the browser's WebSockets (they, unlike Node's, send an Origin header) at the TCP level and
 * refuses new ones until unblocked: a network drop as the page sees it.
 */
function browserSocketGate(server: RunningServer) {
  const sockets = new Set<Duplex>();
  let blocked = false;
  const onUpgrade = (request: IncomingMessage, socket: Duplex) => {
    if (request.headers.origin === undefined) return;
    if (blocked) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  server.httpServer.prependListener('upgrade', onUpgrade);
  return {
    dropAndBlock() {
      blocked = true;
      for (const socket of sockets) socket.destroy();
    },
    unblock() {
      blocked = false;
    },
    remove() {
      server.httpServer.off('upgrade', onUpgrade);
    },
  };
}
