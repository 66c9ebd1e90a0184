import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, tokenRequest, WebFixture } from '../integration/web-support.ts';
import { ACTION_DAG, ACTION_DAGS, FAILED_RUN, seededRun, snapshot } from '../support/action-runs.ts';
import { BrowserSession, logIn, SCREENSHOTS } from '../support/browser.ts';

interface Change {
  taskId: string;
  state: string;
  tryNumber: number;
  newState: string;
}

/**
 * The confirm dialogs of clear and mark in Chromium: they list exactly what the API's dry run
 * returns, follow the scope boxes, act only on Confirm and only on what they showed; the side
 * panel never lets an action reach the previously selected task. No workers or scheduler run:
 * only the actions move task states.
 */
describe('clear and mark dialogs in Chromium', () => {
  let web: WebFixture;
  let browser: BrowserSession;

  beforeAll(async () => {
    web = await WebFixture.start({ dagsFolder: ACTION_DAGS, workers: {}, scheduler: false });
    browser = await BrowserSession.launch();
  });
  afterAll(async () => {
    await browser?.close();
    await web?.close();
  });

  const cell = (runId: string, taskId: string) => `.cell[data-run=${JSON.stringify(runId)}][data-task=${JSON.stringify(taskId)}]`;
  const runPath = (runId: string) => `/dags/${ACTION_DAG}/runs/${encodeURIComponent(runId)}`;
  const DIALOG = '[data-testid=action-dialog]';
  const READY = `${DIALOG}:not([aria-busy])`;

  /** The API's own dry run, as the test's operator. */
  async function apiDryRun(method: string, apiPath: string, body: Record<string, unknown>): Promise<[string, string, number][]> {
    const res = await tokenRequest(web.api, method, apiPath, web.users.operator.token, { ...body, dryRun: true });
    expect(res.status).toBe(200);
    return (await json<{ taskInstances: Change[] }>(res)).taskInstances.map((c) => [c.taskId, c.state, c.tryNumber]);
  }

  /** The rows the dialog lists: task, state now, try. */
  const dialogRows = (page: Page): Promise<[string, string, number][]> =>
    page.$$eval(`${DIALOG} [data-testid=action-list] tbody tr`, (trs) =>
      trs.map((tr) => [(tr as HTMLElement).dataset.task ?? '', (tr as HTMLElement).dataset.state ?? '', Number((tr as HTMLElement).dataset.try)] as [string, string, number]),
    );

  /** Waits until the dialog's dry run for the current boxes has come back and lists `taskIds`. */
  async function waitForList(page: Page, taskIds: string[]): Promise<void> {
    await page.waitForFunction(
      ({ dialog, ids }) => {
        const d = document.querySelector(dialog);
        if (!d || d.hasAttribute('aria-busy')) return false;
        const shown = [...d.querySelectorAll('[data-testid=action-list] tbody tr')].map((tr) => (tr as HTMLElement).dataset.task);
        return JSON.stringify(shown) === JSON.stringify(ids);
      },
      { dialog: DIALOG, ids: taskIds },
      { timeout: 10_000 },
    );
  }

  async function openTask(page: Page, runId: string, taskId: string): Promise<void> {
    await page.goto(`${web.origin}/#/dags/${ACTION_DAG}?run=${encodeURIComponent(runId)}&task=${taskId}`);
    await page.waitForSelector(`[data-testid=clear-task][data-task=${taskId}]:not([disabled])`);
  }

  const dialogCount = (page: Page) => page.evaluate(() => document.querySelectorAll('dialog').length);

  it('the Clear dialog lists what the API dry run returns, follows the scope boxes, and Confirm clears exactly those', async () => {
    const run = await seededRun(web.harness, FAILED_RUN);
    const page = await browser.newPage();
    await logIn(page, web.origin, web.users.operator.username, 'pass-word-123');
    await page.waitForSelector('table.dags');
    await openTask(page, run.runId, 'clean');

    await page.click('[data-testid=clear-task]');
    // Downstream is checked at first: clean and everything after it.
    await waitForList(page, ['clean', 'report', 'join', 'publish']);
    await expect(page.isChecked('#action-scope-downstream')).resolves.toBe(true);
    await expect(page.isChecked('#action-scope-upstream')).resolves.toBe(false);
    await expect(page.isChecked('#action-scope-onlyFailed')).resolves.toBe(false);
    await expect(page.textContent('[data-testid=action-subject]')).resolves.toContain('clean · try 1 · failed');
    const clearPath = `${runPath(run.runId)}/taskInstances/clean/clear`;
    expect(await dialogRows(page)).toEqual(await apiDryRun('POST', clearPath, { downstream: true, upstream: false, onlyFailed: false }));
    await page.locator(DIALOG).screenshot({ path: path.join(SCREENSHOTS, 'dialog-clear-downstream.png') });

    // Downstream off: clean alone; upstream on: extract too; each list is the API's dry run.
    await page.uncheck('#action-scope-downstream');
    await waitForList(page, ['clean']);
    expect(await dialogRows(page)).toEqual(await apiDryRun('POST', clearPath, { downstream: false, upstream: false, onlyFailed: false }));
    await page.check('#action-scope-upstream');
    await waitForList(page, ['extract', 'clean']);
    expect(await dialogRows(page)).toEqual(await apiDryRun('POST', clearPath, { downstream: false, upstream: true, onlyFailed: false }));
    await page.check('#action-scope-downstream');
    await page.check('#action-scope-onlyFailed');
    await waitForList(page, ['clean', 'report', 'join', 'publish']);
    expect(await dialogRows(page)).toEqual(await apiDryRun('POST', clearPath, { downstream: true, upstream: true, onlyFailed: true }));
    await page.uncheck('#action-scope-onlyFailed');
    await waitForList(page, ['extract', 'clean', 'report', 'join', 'publish']);
    await page.locator(DIALOG).screenshot({ path: path.join(SCREENSHOTS, 'dialog-clear-upstream-downstream.png') });
    const shown = (await dialogRows(page)).map(([taskId]) => taskId);

    // Nothing changed until Confirm; then exactly the listed task instances did.
    const before = await snapshot(web.harness, run.dagRunId);
    await page.click('[data-testid=action-confirm]');
    await page.waitForSelector('dialog', { state: 'detached' });
    await page.waitForSelector('#toast:not([hidden])');
    await expect(page.textContent('#toast')).resolves.toMatch(/^Cleared /);
    const after = await snapshot(web.harness, run.dagRunId);
    const changed = Object.keys(before).filter((t) => JSON.stringify(after[t]) !== JSON.stringify(before[t]));
    expect(changed.sort()).toEqual([...shown].sort());
    expect(after.enrich).toEqual(before.enrich);
    for (const taskId of shown) expect(['none', 'queued', 'upstream_failed']).toContain(after[taskId]!.state);
    await page.close();
  });

  it('Escape closes a dialog and removes it; a second one never stays; focus stays inside; nothing changes', async () => {
    const run = await seededRun(web.harness, FAILED_RUN);
    const before = await snapshot(web.harness, run.dagRunId);
    const page = await browser.newPage();
    await logIn(page, web.origin, web.users.operator.username, 'pass-word-123');
    await page.waitForSelector('table.dags');
    await openTask(page, run.runId, 'clean');

    await page.click('[data-testid=mark-success]');
    await waitForList(page, ['clean']);
    await page.locator(DIALOG).screenshot({ path: path.join(SCREENSHOTS, 'dialog-mark-success.png') });
    // Tab goes round inside the dialog, never to the page behind it.
    for (let i = 0; i < 8; i += 1) {
      await page.keyboard.press(i % 3 === 2 ? 'Shift+Tab' : 'Tab');
      await expect(page.evaluate(() => Boolean(document.activeElement?.closest('dialog')))).resolves.toBe(true);
    }
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog', { state: 'detached' });
    expect(await dialogCount(page)).toBe(0);

    // Open, Escape, open another, Cancel: never a dialog left behind, never two at once.
    await page.click('[data-testid=clear-task]');
    await page.waitForSelector(READY);
    expect(await dialogCount(page)).toBe(1);
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog', { state: 'detached' });
    await page.click('[data-testid=mark-success]');
    await page.waitForSelector(READY);
    await page.click(`${DIALOG} button:text-is("Cancel")`);
    await page.waitForSelector('dialog', { state: 'detached' });
    expect(await dialogCount(page)).toBe(0);

    // The run panel's dialogs too (clear failed tasks; mark the run).
    await page.click(`.run-bar[data-run=${JSON.stringify(run.runId)}]`);
    await page.click('[data-testid=clear-failed]');
    await waitForList(page, ['clean', 'report', 'join', 'publish']);
    expect(await dialogRows(page)).toEqual(await apiDryRun('POST', `${runPath(run.runId)}/clear`, {}));
    await page.locator(DIALOG).screenshot({ path: path.join(SCREENSHOTS, 'dialog-clear-failed-run.png') });
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog', { state: 'detached' });
    await page.click('[data-testid=mark-run-success]');
    await waitForList(page, ['clean', 'report', 'join', 'publish']);
    await page.locator(DIALOG).screenshot({ path: path.join(SCREENSHOTS, 'dialog-mark-run-success.png') });
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog', { state: 'detached' });

    expect(await snapshot(web.harness, run.dagRunId)).toEqual(before);
    await page.close();
  });

  it('the stale-selection race: select A, click B and at once "Mark failed" → the dialog and the action are for B, never A', async () => {
    const run = await seededRun(web.harness, FAILED_RUN);
    const before = await snapshot(web.harness, run.dagRunId);
    const page = await browser.newPage();
    await logIn(page, web.origin, web.users.operator.username, 'pass-word-123');
    await page.waitForSelector('table.dags');
    // A = extract, B = enrich: both succeeded, so "Mark failed" is enabled for each.
    await openTask(page, run.runId, 'extract');
    await page.waitForSelector('[data-testid=mark-failed][data-task=extract]:not([disabled])');

    // B's task instance comes back slowly.
    let slow: string | null = 'enrich';
    await page.route(
      (url) => url.pathname.includes('/api/v1/') && slow !== null && url.pathname.endsWith(`/taskInstances/${slow}`),
      async (route) => {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await route.continue();
      },
    );
    await page.click(cell(run.runId, 'enrich'));
    // At once, before B's fetch returns: no enabled action button of A is left in the panel.
    const buttons = await page.$$eval('[data-testid=panel] button[data-testid]', (bs) => bs.map((b) => ({ task: (b as HTMLElement).dataset.task, disabled: (b as HTMLButtonElement).disabled })));
    expect(buttons.filter((b) => b.task === 'extract' && !b.disabled)).toEqual([]);
    await expect(page.textContent('[data-testid=panel-task]')).resolves.toBe('enrich');
    await page.locator('[data-testid=panel]').screenshot({ path: path.join(SCREENSHOTS, 'panel-loading-after-switch.png') });
    // "Mark failed" right away: it can only be B's (the click waits for B's panel).
    await page.click('[data-testid=mark-failed]');
    await waitForList(page, ['enrich']);
    await expect(page.textContent('[data-testid=action-subject]')).resolves.toContain('enrich · try 1 · success');
    expect(await dialogRows(page)).toEqual([['enrich', 'success', 1]]);
    await page.locator(DIALOG).screenshot({ path: path.join(SCREENSHOTS, 'dialog-mark-failed.png') });
    await page.click('[data-testid=action-confirm]');
    await page.waitForSelector('dialog', { state: 'detached' });
    const after = await snapshot(web.harness, run.dagRunId);
    expect(after.enrich!.state).toBe('failed');
    for (const taskId of Object.keys(before)) if (taskId !== 'enrich') expect(after[taskId], taskId).toEqual(before[taskId]);

    // The other way round: A's answer arrives after B's panel is shown; it is dropped.
    await page.click(cell(run.runId, 'report'));
    await page.waitForSelector('[data-testid=mark-failed][data-task=report]');
    slow = 'extract';
    await page.click(cell(run.runId, 'extract'));
    slow = null;
    await page.click(cell(run.runId, 'clean'));
    await page.waitForSelector('[data-testid=mark-success][data-task=clean]:not([disabled])');
    await page.waitForTimeout(2000); // extract's slow answer has come back by now
    await expect(page.textContent('[data-testid=panel-task]')).resolves.toBe('clean');
    expect(await page.$$eval('[data-testid=panel] button[data-task]', (bs) => [...new Set(bs.map((b) => (b as HTMLElement).dataset.task))])).toEqual(['clean']);
    await page.click('[data-testid=mark-success]');
    await waitForList(page, ['clean']);
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog', { state: 'detached' });
    expect((await snapshot(web.harness, run.dagRunId)).extract).toEqual(before.extract);
    await page.close();
  });

  it('a confirmed dialog whose task changed meanwhile gets 409 from the API, shows it, and changes nothing', async () => {
    const run = await seededRun(web.harness, FAILED_RUN);
    const page = await browser.newPage();
    await logIn(page, web.origin, web.users.operator.username, 'pass-word-123');
    await page.waitForSelector('table.dags');
    await openTask(page, run.runId, 'clean');
    await page.click('[data-testid=mark-success]');
    await waitForList(page, ['clean']);
    // Meanwhile clean ran again: try 2, failed.
    const { setTask } = await import('../support/action-runs.ts');
    await setTask(web.harness, run.dagRunId, 'clean', 'failed', 2);
    const before = await snapshot(web.harness, run.dagRunId);
    await page.click('[data-testid=action-confirm]');
    await page.waitForSelector('[data-testid=action-error]:not([hidden])');
    await expect(page.textContent('[data-testid=action-error]')).resolves.toMatch(/changed meanwhile/);
    await page.locator(DIALOG).screenshot({ path: path.join(SCREENSHOTS, 'dialog-conflict.png') });
    expect(await snapshot(web.harness, run.dagRunId)).toEqual(before);
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog', { state: 'detached' });
    await page.close();
  });
});
