import path from 'node:path';
import { sql } from 'drizzle-orm';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversions, exposures, impressions } from '../../core/db/schema/feedback.ts';
import { members as memberTable, workouts } from '../../core/db/schema/source/index.ts';
import { listAuditEntries } from '../../core/db/queries/audit-log.ts';
import { variantOf } from '../../daily-picks/experiments/experiment.ts';
import { createExperiment, getExperiment } from '../../daily-picks/experiments/store.ts';
import { utcDay } from '../../model/data/time.ts';
import { PASSWORD, WebFixture } from '../integration/web-support.ts';
import { BrowserSession, logIn as submitLogin, SCREENSHOTS } from '../support/browser.ts';

const DAY_MS = 86_400_000;

/**
 * The experiments page in Chromium: the list, one experiment's variants and its lift plot, the
 * sample-ratio warning, and stopping (operator, after a confirmation; a viewer has no Stop).
 */
describe('experiments page in Chromium', () => {
  let web: WebFixture;
  let browser: BrowserSession;

  beforeAll(async () => {
    web = await WebFixture.start({ scheduler: false, workers: {} });
    browser = await BrowserSession.launch();
    const db = web.harness.db;
    const now = Date.now();
    const day1 = new Date(Math.floor((now - 2 * DAY_MS) / DAY_MS) * DAY_MS);
    const day2 = new Date(day1.getTime() + DAY_MS);
    const at = (day: Date, hour: number) => new Date(day.getTime() + hour * 3_600_000);

    const experiment = await createExperiment(
      db,
      { key: 'e2e-model', variants: [{ key: 'heuristics', weight: 50 }, { key: 'model', weight: 50 }], startAt: new Date(day1.getTime() - DAY_MS), description: 'the ranker against the heuristics' },
      'admin1',
    );
    const ids = Array.from({ length: 200 }, (_, i) => `m-${i}`);
    await db.insert(memberTable).values(ids.map((memberId) => ({ memberId })));
    const byVariant = (v: string) => ids.filter((id) => variantOf(experiment, id).key === v).slice(0, 40);
    const arms = { heuristics: byVariant('heuristics'), model: byVariant('model') };
    await db.execute(sql`select feedback.ensure_partitions(${utcDay(day1)}::date, ${utcDay(day2)}::date)`);

    // 40 exposed members per arm, 3 picks on each of two days; the baseline shows the same classes
    // again (repeat-ignored), the model new ones. 10 of 40 take a pick in the baseline, 20 of 40 with the model.
    for (const [variant, list] of Object.entries(arms)) {
      await db.insert(exposures).values(list.map((memberId) => ({ experimentKey: 'e2e-model', memberId, variant, exposedAt: at(day1, 7) })));
      await db.insert(impressions).values(
        list.flatMap((memberId) =>
          [day1, day2].flatMap((day, d) =>
            ['c1', 'c2', 'c3'].map((c, i) => ({
              day: utcDay(day),
              servedAt: at(day, 8),
              memberId,
              row: 'for_your_usual',
              position: i + 1,
              classId: variant === 'model' && d === 1 ? `${c}-new` : c,
              experimentKey: 'e2e-model',
              variant,
              source: 'api' as const,
            })),
          ),
        ),
      );
      const takers = list.slice(0, variant === 'model' ? 20 : 10);
      const took = await db.insert(workouts).values(takers.map((memberId) => ({ memberId, classId: 'c1', startedAt: at(day1, 12) }))).returning();
      await db.insert(conversions).values(
        took.map((w) => ({ day: utcDay(day1), workoutId: w.workoutId, memberId: w.memberId, classId: 'c1', startedAt: w.startedAt, servedAt: at(day1, 8), row: 'for_your_usual', position: 1, experimentKey: 'e2e-model', variant })),
      );
    }

    // A second experiment whose exposures are skewed (300 vs 200 at 50/50): a sample-ratio mismatch.
    await createExperiment(db, { key: 'e2e-skewed', variants: [{ key: 'heuristics', weight: 50 }, { key: 'model_ignore_aware', weight: 50 }], rows: ['ranked'], startAt: day1 }, 'admin1');
    await db.insert(exposures).values([
      ...Array.from({ length: 300 }, (_, i) => ({ experimentKey: 'e2e-skewed', memberId: `s-a-${i}`, variant: 'heuristics', exposedAt: at(day1, 9) })),
      ...Array.from({ length: 200 }, (_, i) => ({ experimentKey: 'e2e-skewed', memberId: `s-b-${i}`, variant: 'model_ignore_aware', exposedAt: at(day1, 9) })),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await web?.close();
  });

  async function logIn(page: Page, username: string): Promise<void> {
    await submitLogin(page, web.origin, username, PASSWORD);
    await page.waitForSelector('table.dags');
  }
  const cell = (variant: string, field: string) => `[data-testid=experiment-variants] tr[data-variant=${variant}] td[data-field=${field}]`;

  it('a viewer sees the list, the variants with their numbers, the lift plot with intervals, and no Stop', async () => {
    const page = await browser.newPage();
    await logIn(page, web.users.viewer.username);
    await page.click('#nav a[data-nav=experiments]');
    await page.waitForSelector('[data-testid=experiment-row][data-key=e2e-model]');
    const keys = await page.$$eval('[data-testid=experiment-row]', (rows) => rows.map((r) => (r as HTMLElement).dataset.key));
    expect(keys).toEqual(['e2e-skewed', 'e2e-model']);
    const row = await page.textContent('[data-testid=experiment-row][data-key=e2e-model]');
    expect(row).toContain('running');
    expect(row).toContain('heuristics 50%');
    expect(row).toContain('model 50%');
    expect(row).toContain('for_your_usual, quick_workout, something_new');
    expect(row).toContain('the ranker against the heuristics');

    await page.click('[data-testid=experiment-row][data-key=e2e-model] a.experiment-link');
    await page.waitForSelector('[data-testid=experiment-detail]');
    await expect(page.textContent(cell('heuristics', 'exposed'))).resolves.toBe('40');
    await expect(page.textContent(cell('model', 'exposed'))).resolves.toBe('40');
    await expect(page.textContent(cell('heuristics', 'takeRate'))).resolves.toBe('25.0%');
    await expect(page.textContent(cell('model', 'takeRate'))).resolves.toBe('50.0%');
    await expect(page.textContent(cell('model', 'impressions'))).resolves.toBe('240');
    await expect(page.textContent(cell('model', 'conversions'))).resolves.toBe('20');
    await expect(page.textContent(cell('heuristics', 'repeatIgnoredRate'))).resolves.toBe('100.0%');
    await expect(page.textContent(cell('model', 'repeatIgnoredRate'))).resolves.toBe('0.0%');

    // The forest plot: a point and interval per metric, the zero line, the numbers beside them.
    expect(await page.isVisible('svg[data-testid=lift-plot]')).toBe(true);
    await expect(page.locator('[data-testid=lift-zero]').count()).resolves.toBe(1);
    const points = await page.$$eval('svg[data-testid=lift-plot] .forest-row', (rows) =>
      rows.map((r) => [(r as SVGElement).dataset.metric, r.querySelector('[data-testid=lift-point]') !== null, r.querySelector('[data-testid=lift-value]')?.textContent ?? null]),
    );
    expect(points.map(([m, p]) => [m, p])).toEqual([
      ['takeRate', true],
      ['conversionsPerImpression', true],
      ['repeatIgnoredRate', true],
      ['workoutsPerMember', true],
    ]);
    expect(points[0]![2]).toMatch(/^\+100%/);
    expect(points[2]![2]).toMatch(/^−100%/);
    const lift = await page.textContent('[data-testid=experiment-lift] tr[data-metric=takeRate]');
    expect(lift).toContain('+100%');
    expect(lift).toMatch(/to \+/);
    expect(await page.isVisible('[data-testid=srm-warning]')).toBe(false);
    await expect(page.textContent('[data-testid=experiment-guardrail]')).resolves.toContain('0.500');
    await expect(page.locator('[data-testid=experiment-stop]').count()).resolves.toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'experiment.png'), fullPage: true });

    // The skewed one warns of a sample-ratio mismatch.
    await page.goto(`${web.origin}/#/experiments/e2e-skewed`);
    await page.waitForSelector('[data-testid=srm-warning]');
    await expect(page.textContent('[data-testid=srm-warning]')).resolves.toMatch(/Sample ratio mismatch.*p = < 0\.0001/);
    await expect(page.locator('[data-testid=experiment-stop]').count()).resolves.toBe(0);
    await page.close();
  });

  it('an operator stops an experiment after confirming; cancelling changes nothing; it is audited', async () => {
    const page = await browser.newPage();
    await logIn(page, web.users.operator.username);
    await page.goto(`${web.origin}/#/experiments/e2e-model`);
    await page.waitForSelector('[data-testid=experiment-stop]');
    await page.click('[data-testid=experiment-stop]');
    await page.waitForSelector('[data-testid=confirm-dialog]');
    await expect(page.textContent('[data-testid=confirm-dialog]')).resolves.toContain('for_your_usual, quick_workout, something_new are ranked as without the experiment');
    await page.click('[data-testid=confirm-dialog] button:text-is("Cancel")');
    expect((await getExperiment(web.harness.db, 'e2e-model'))?.stoppedAt).toBeNull();

    await page.click('[data-testid=experiment-stop]');
    await page.click('[data-testid=confirm-submit]');
    await page.waitForSelector('[data-testid=experiment-detail] [data-testid=experiment-status].experiment-stopped');
    await expect(page.textContent('#toast')).resolves.toContain('e2e-model stopped');
    await expect(page.locator('[data-testid=experiment-stop]').count()).resolves.toBe(0);
    expect(await getExperiment(web.harness.db, 'e2e-model')).toMatchObject({ status: 'stopped', stoppedBy: web.users.operator.username });
    const entries = await listAuditEntries(web.harness.db, { limit: 5, action: 'experiment.stop' });
    expect(entries.map((e) => [e.actor, e.target])).toEqual([[web.users.operator.username, 'e2e-model']]);

    await page.click('#nav a[data-nav=experiments]');
    await page.waitForSelector('[data-testid=experiment-row][data-key=e2e-model]');
    await expect(page.textContent('[data-testid=experiment-row][data-key=e2e-model]')).resolves.toContain('stopped');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'experiments.png') });
    await page.close();
  });
});
