/**
 * Input requests on the chat page in a real browser: a tool call waiting for approval shows in
 * the timeline with its tool, arguments and prompt, and Approve / Deny (with a comment); a
 * question shows its options; the request survives a reload, and answering it in another tab
 * updates both. Every wait is on something the page shows.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { HITL_TOOLS, approver, executions } from '../support/hitl-agents.ts';
import { startTestServer } from '../support/server.ts';
import { ensurePageBuilt, launchChromium } from './browser.ts';

describe('input requests on the chat page', () => {
  let browser: Browser;
  let server: RunningServer;
  const contexts: BrowserContext[] = [];
  let pageErrors: string[] = [];

  beforeAll(async () => {
    await ensurePageBuilt();
    [browser, server] = await Promise.all([
      launchChromium(),
      // The approver answers on HOME, in the guide's place.
      startTestServer({}, { withoutSecret: true, agents: [{ ...approver, id: 'guide', kind: 'GUIDE' }], tools: HITL_TOOLS }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    const errors = pageErrors;
    pageErrors = [];
    expect(errors, 'uncaught errors in the page').toEqual([]);
  });

  async function openPage(context?: BrowserContext, path = '/'): Promise<Page> {
    if (!context) {
      context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      contexts.push(context);
    }
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}${path}`);
    await page.getByRole('status', { name: 'Connection' }).getByText('Connected', { exact: true }).waitFor();
    return page;
  }

  async function say(page: Page, text: string) {
    await page.getByRole('textbox', { name: 'Message' }).fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
  }

  const request = (page: Page) => page.locator('li.input-request').last();
  const reply = (page: Page, text: string) => page.getByRole('log', { name: 'Transcript' }).getByText(text).waitFor();

  it('shows a tool call waiting for approval with its tool, arguments and prompt, and runs it once approved', async () => {
    const page = await openPage();
    await say(page, 'transfer page-approve');
    const pending = request(page);
    await pending.getByText('Allow test.transfer to run?').waitFor();
    expect(await pending.locator('code').textContent()).toBe('test.transfer');
    expect(JSON.parse((await pending.locator('pre').textContent())!)).toEqual({ ref: 'page-approve', amount: 5 });
    expect(executions.get('test.transfer page-approve')).toBeUndefined();
    await pending.getByRole('button', { name: 'Approve' }).click();
    await pending.getByText('Approved.').waitFor();
    await reply(page, 'Transferred 5.');
    expect(await pending.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(executions.get('test.transfer page-approve')).toBe(1);
  });

  it('denies with a comment from another tab of the same user, and both tabs show it', async () => {
    const first = await openPage();
    await say(first, 'transfer page-deny');
    await request(first).getByRole('button', { name: 'Deny' }).waitFor();
    const address = new URL(first.url());
    expect(address.searchParams.get('conversation')).toBeTruthy();
    const second = await openPage(first.context(), `${address.pathname}${address.search}`);
    const there = request(second);
    await there.getByRole('textbox', { name: 'Comment' }).fill('Too much this week.');
    await there.getByRole('button', { name: 'Deny' }).click();
    for (const page of [first, second]) {
      await request(page).getByText('Denied: Too much this week.').waitFor();
      await reply(page, 'Not transferred: Too much this week.');
    }
    expect(executions.get('test.transfer page-deny')).toBeUndefined();
  });

  it('keeps a pending question across a reload and answers it with one of its options', async () => {
    const page = await openPage();
    await say(page, 'question');
    await request(page).getByRole('button', { name: 'blue' }).waitFor();
    await page.reload();
    await page.getByRole('status', { name: 'Connection' }).getByText('Connected', { exact: true }).waitFor();
    const again = request(page);
    await again.getByText('Which color?').waitFor();
    await again.getByRole('button', { name: 'blue' }).click();
    await again.getByText('Answered: blue').waitFor();
    await reply(page, 'You chose blue.');
    expect(await page.locator('li.input-request').count()).toBe(1);
  });
});
