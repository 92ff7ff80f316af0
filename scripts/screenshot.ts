/**
 * `tsx scripts/screenshot.ts`: the README's picture of the chat page (docs/chat-page.png), taken
 * as the browser tests drive the page: a gateway in this process, headless Chromium, a CSV asked
 * about on Insights, and the shot once its chart is drawn.
 */
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/server.ts';
import { ensurePageBuilt, launchChromium } from '../test/browser/browser.ts';

const output = fileURLToPath(new URL('../docs/chat-page.png', import.meta.url));
const SALES_CSV = ['month,revenue', '2026-01-01,120', '2026-02-01,135', '2026-03-01,160', '2026-04-01,150', '2026-05-01,172'].join('\n');

await ensurePageBuilt();
const server = await startServer(loadConfig({ PORT: '0', AGENT_STEP_DELAY_MS: '0', LOG_LEVEL: 'silent' }), pino({ level: 'silent' }));
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  await page.goto(server.url);
  await page.getByRole('status', { name: 'Connection' }).getByText('Connected', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Insights', exact: true }).click();
  await page.getByLabel('Attach file').setInputFiles({ name: 'sales.csv', mimeType: 'text/csv', buffer: Buffer.from(SALES_CSV) });
  await page.getByRole('textbox', { name: 'Message' }).fill('What trends are in this data?');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('.chart[data-rendered="true"] svg').waitFor();
  await page.getByRole('region', { name: 'Timeline' }).getByText('Insights liaison completed the reply.').waitFor();
  await page.screenshot({ path: output });
  console.log(`Wrote ${output}`);
} finally {
  await browser.close();
  await server.close();
}
