import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemberPicksView } from '../../daily-picks/picks-reader.ts';
import { PASSWORD, WebFixture } from '../integration/web-support.ts';
import { BrowserSession, logIn as submitLogin, SCREENSHOTS } from '../support/browser.ts';
import { day, insertSource, PicksWorld, runSteps, stepContext, type ClassSpec } from '../support/picks.ts';


/** Real browser tests: Debian's Chromium driven by playwright-core, against a real web server, scheduler and workers. */
describe('operator UI in Chromium', () => {
  let web: WebFixture;
  let browser: BrowserSession;

  beforeAll(async () => {
    web = await WebFixture.start();
    browser = await BrowserSession.launch();
  });
  afterAll(async () => {
    await browser?.close();
    await web?.close();
  });

  const newPage = (): Promise<Page> => browser.newPage();

  const logIn = (page: Page, username: string, password = PASSWORD): Promise<void> => submitLogin(page, web.origin, username, password);

  async function failedRun(): Promise<string> {
    const run = await web.harness.trigger('web_flaky');
    const finished = await web.harness.waitForRun(run.dagRunId);
    expect(finished.state).toBe('failed');
    return run.runId;
  }

  const cell = (runId: string, taskId: string, state?: string) =>
    `.cell[data-run=${JSON.stringify(runId)}][data-task=${JSON.stringify(taskId)}]${state ? `[data-state=${JSON.stringify(state)}]` : ''}`;

  it('rejects a wrong password on the login page', async () => {
    const page = await newPage();
    await logIn(page, web.users.operator.username, 'not-the-password');
    await page.waitForSelector('form.login .error:not([hidden])');
    await expect(page.textContent('form.login .error')).resolves.toMatch(/wrong username or password/);
    expect(page.url()).toContain('#/login');
    await page.close();
  });

  it('an operator logs in, sees the failed run in the grid, reads the log, clears the task and watches the run turn green', async () => {
    const runId = await failedRun();
    const page = await newPage();
    await logIn(page, web.users.operator.username);
    await page.waitForSelector('table.dags');
    await page.click('a.dag-link:text-is("web_flaky")');

    // The failed run in the grid: transform failed, load upstream_failed, the run bar red.
    await page.waitForSelector(cell(runId, 'transform', 'failed'));
    await expect(page.getAttribute(cell(runId, 'load'), 'data-state')).resolves.toBe('upstream_failed');
    await expect(page.getAttribute(`.run-bar[data-run=${JSON.stringify(runId)}]`, 'data-state')).resolves.toBe('failed');
    await page.locator('[data-testid=grid]').screenshot({ path: path.join(SCREENSHOTS, 'grid-failed.png') });

    // The task panel: its try, its log (with the error) and the error.
    await page.click(cell(runId, 'transform'));
    await page.waitForSelector('[data-testid=log]');
    await expect(page.textContent('[data-testid=panel-task]')).resolves.toBe('transform');
    await expect(page.textContent('[data-testid=log]')).resolves.toContain('column "score" is missing');
    await expect(page.locator('[data-testid=tries] tbody tr').count()).resolves.toBe(1);
    await page.locator('[data-testid=panel]').screenshot({ path: path.join(SCREENSHOTS, 'task-panel-failed.png') });

    // Clear with downstream, confirmed in the dialog that lists what it clears; the grid
    // updates by itself (no reload) until the run is green.
    await page.click('[data-testid=clear-task]');
    await page.waitForSelector('[data-testid=action-dialog]:not([aria-busy]) [data-testid=action-list] tr[data-task="load"]');
    await expect(page.isChecked('#action-scope-downstream')).resolves.toBe(true);
    await page.click('[data-testid=action-confirm]');
    await page.waitForSelector('dialog', { state: 'detached' });
    await page.waitForSelector(cell(runId, 'transform', 'success'), { timeout: 20_000 });
    await page.waitForSelector(cell(runId, 'load', 'success'), { timeout: 20_000 });
    await page.waitForSelector(`.run-bar[data-run=${JSON.stringify(runId)}][data-state="success"]`, { timeout: 20_000 });
    // The panel follows the new try: two tries, the latest a success.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=tries] tbody tr').length === 2, undefined, { timeout: 10_000 });
    await expect(page.textContent('[data-testid=task-state]')).resolves.toContain('success');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'grid-after-clear.png') });
    await page.locator('[data-testid=panel]').screenshot({ path: path.join(SCREENSHOTS, 'task-panel-after-clear.png') });

    // The audit log page shows the clear, by this operator.
    await page.click('#nav a[data-nav=audit]');
    await page.waitForSelector('[data-testid=audit] tr[data-action="task.clear"]');
    const entry = await page.textContent('[data-testid=audit] tr[data-action="task.clear"]');
    expect(entry).toContain(web.users.operator.username);
    expect(entry).toContain('transform');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'audit-log.png') });
    await page.close();
  });

  it('a viewer sees the grid but cannot clear: the buttons are disabled and the API answers 403', async () => {
    const runId = await failedRun();
    const page = await newPage();
    await logIn(page, web.users.viewer.username);
    await page.waitForSelector('table.dags');
    await expect(page.isDisabled('[data-testid="trigger-web_flaky"]')).resolves.toBe(true);
    await page.goto(`${web.origin}/#/dags/web_flaky?run=${encodeURIComponent(runId)}&task=transform`);
    await page.waitForSelector('[data-testid=log]');
    for (const button of ['clear-task', 'mark-success', 'mark-failed']) {
      await expect(page.isDisabled(`[data-testid=${button}]`), button).resolves.toBe(true);
    }
    // The same request the operator's button sends, from this viewer's session (with its CSRF token).
    const result = await page.evaluate(async (url) => {
      const session = (await (await fetch('/api/v1/session')).json()) as { csrfToken: string };
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken }, body: '{"downstream":true}' });
      return { status: res.status, body: (await res.json()) as { error: string } };
    }, `/api/v1/dags/web_flaky/runs/${encodeURIComponent(runId)}/taskInstances/transform/clear`);
    expect(result.status).toBe(403);
    expect(result.body.error).toMatch(/operator/);
    // Nothing changed.
    expect((await web.harness.taskStates((await web.harness.run('web_flaky', runId))!.id)).transform).toBe('failed');
    await page.close();
  });

  it('triggers a run with conf from the DAG list', async () => {
    const page = await newPage();
    await logIn(page, web.users.operator.username);
    await page.click('[data-testid="trigger-web_flaky"]');
    await page.fill('#trigger-conf', 'not json');
    await page.click('[data-testid=trigger-submit]');
    await expect(page.locator('dialog .error').textContent()).resolves.toMatch(/not JSON/);
    await page.fill('#trigger-conf', '{"source": "ui-test", "n": 2}');
    await page.click('[data-testid=trigger-submit]');
    await page.waitForURL(/#\/dags\/web_flaky/);
    await page.waitForSelector('.run-bar');
    const runs = await web.harness.runtime.db.query.dagRuns.findMany({ where: (r, { eq }) => eq(r.triggeredBy, web.users.operator.username) });
    expect(runs.some((r) => r.conf.source === 'ui-test' && r.conf.n === 2)).toBe(true);
    await page.close();
  });

  it('the picks browser shows a member\'s published rows with scores and reasons (the real picks API)', async () => {
    // A small real set, published by the pipeline's own steps into this web server's database and cache.
    const world = await PicksWorld.create({ databaseUrl: web.harness.config.databaseUrl, prefix: web.harness.config.queuePrefix });
    try {
      const asOf = day('2026-11-01');
      await insertSource(world, {
        instructors: ['ana:Ana', 'ben:Ben'],
        classes: [
          ...Array.from({ length: 6 }, (_, i): ClassSpec => ({ id: `ride${i}`, title: i === 5 ? '<b>Power</b> Ride' : `Ride ${i}`, discipline: 'cycling', duration: 30, instructor: 'ana', airedAt: day('2026-10-01', i) })),
          ...Array.from({ length: 3 }, (_, i): ClassSpec => ({ id: `core${i}`, title: `Core Blast ${i}`, discipline: 'strength', duration: 10, instructor: 'ben', airedAt: day('2026-10-02', i) })),
        ],
        members: [{ id: 'm_42' }],
        workouts: [0, 1, 2].map((i) => ({ member: 'm_42', cls: `ride${i}`, at: day('2026-10-25', i, 7) })),
      });
      await runSteps(world, stepContext('e2e_picks', { start: day('2026-10-31'), end: asOf }, { rowSize: 3, rankedSize: 6 }));
    } finally {
      await world.close();
    }
    const expected = (await (await fetch(`${web.api}/members/m_42/picks`)).json()) as MemberPicksView;
    expect(expected.source).toBe('cache');
    const usualPick = expected.rows.find((r) => r.row === 'for_your_usual')!.picks[0]!;
    expect(usualPick.title).toBe('<b>Power</b> Ride'); // the newest untaken ride leads on a tie

    const page = await newPage();
    await logIn(page, web.users.viewer.username);
    await page.waitForSelector('table.dags');
    await page.click('#nav a[data-nav=picks]');
    await page.fill('#member-id', 'm_42');
    await page.click('button:text-is("Show picks")');
    await page.waitForSelector('[data-row=for_your_usual]');
    await expect(page.textContent('[data-testid=picks] dl')).resolves.toMatch(/Sourcecache.*Modelheuristics/s);
    await expect(page.textContent('[data-row=for_your_usual] h2')).resolves.toContain('For Your Usual');
    const usual = await page.textContent('[data-row=for_your_usual]');
    expect(usual).toContain('<b>Power</b> Ride'); // shown as text, not markup
    // As the page's score bar prints a score.
    const shown = (score: number) => score.toFixed(score < 0.01 && score > 0 ? 4 : 3);
    expect(usual).toContain(shown(usualPick.score));
    expect(usual).toContain(usualPick.reason);
    expect(usual).toContain('You often take 30-min Cycling');
    // Every published row is on the page, each pick with its score and reason, in order.
    for (const row of expected.rows) {
      const cells = await page.$$eval(`[data-row=${row.row}] tbody tr`, (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      expect(cells.map((c) => c[6]), row.row).toEqual(row.picks.map((p) => p.reason));
      expect(cells.map((c) => c[5]), row.row).toEqual(row.picks.map((p) => shown(p.score)));
    }
    await expect(page.textContent('[data-row=quick_workout]')).resolves.toContain('Core Blast');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'picks.png') });
    await page.close();
  });
});
