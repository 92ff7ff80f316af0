/**
 * The documentation holds together: the README stays one screen, links every page of docs/, and
 * no relative link in the README or docs/ points at a file that is not there.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/process.ts';

const PAGES = readdirSync(join(PROJECT_ROOT, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/${name}`);
const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), 'utf8');
/** The relative targets of a page's Markdown links and images, without their #anchors. */
const relativeLinks = (text: string) =>
  [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!.split('#')[0]!).filter((target) => target !== '' && !/^[a-z]+:/.test(target));

it('keeps the README to one screen of at most 250 lines', () => {
  expect(read('README.md').split('\n').length).toBeLessThanOrEqual(250);
});

it('links every page of docs/ from the README', () => {
  const linked = new Set(relativeLinks(read('README.md')));
  expect(PAGES.length).toBeGreaterThan(5);
  expect(PAGES.filter((page) => !linked.has(page))).toEqual([]);
});

it.each(['README.md', ...PAGES])('%s links only to files that exist', (page) => {
  const missing = relativeLinks(read(page)).filter((target) => !existsSync(join(PROJECT_ROOT, dirname(page), target)));
  expect(missing).toEqual([]);
});
