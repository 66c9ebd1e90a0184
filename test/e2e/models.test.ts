import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelVersionRow } from '../../core/db/schema/model-version.ts';
import { promoteModel, registerModel, requireModel } from '../../model/registry.ts';
import { PASSWORD, WebFixture } from '../integration/web-support.ts';
import { BrowserSession, logIn as submitLogin, SCREENSHOTS } from '../support/browser.ts';


const metrics = (ranker: number) => ({
  ranker: { 'ndcg@10': ranker, 'recall@10': ranker + 0.2, 'map@10': ranker - 0.05 },
  heuristics: { 'ndcg@10': 0.3012, 'recall@10': 0.5104, 'map@10': 0.25 },
  popularity: { 'ndcg@10': 0.1987, 'recall@10': 0.3311, 'map@10': 0.15 },
  baseline: { 'ndcg@10': 0.3521, 'recall@10': 0.5573, 'map@10': 0.3 },
});

/** The model registry page in Chromium: the list with metrics, the detail view, promoting as an operator, read-only for a viewer. */
describe('model registry page in Chromium', () => {
  let web: WebFixture;
  let browser: BrowserSession;
  let live: ModelVersionRow;
  let better: ModelVersionRow;
  let failed: ModelVersionRow;

  beforeAll(async () => {
    web = await WebFixture.start({ scheduler: false, workers: {} });
    browser = await BrowserSession.launch();
  });
  afterAll(async () => {
    await browser?.close();
    await web?.close();
  });

  const newPage = (): Promise<Page> => browser.newPage();

  async function logIn(page: Page, username: string): Promise<void> {
    await submitLogin(page, web.origin, username, PASSWORD);
    await page.waitForSelector('table.dags');
  }

  const row = (version: string) => `[data-testid=model-row][data-version=${JSON.stringify(version)}]`;

  it('before any training run the page explains where models come from', async () => {
    const page = await newPage();
    await logIn(page, web.users.viewer.username);
    await page.click('#nav a[data-nav=models]');
    await page.waitForSelector('[data-testid=models-empty]');
    await expect(page.textContent('[data-testid=models-empty]')).resolves.toMatch(/No models yet\..*once the ranker trains/);
    await expect(page.textContent('.model-summary')).resolves.toContain('No model in production');
    await page.close();
  });

  it('an operator sees the versions with their metrics per candidate and promotes a better one; the old one is archived', async () => {
    const db = web.harness.db;
    const trained = {
      status: 'succeeded' as const,
      params: { epochs: 6, embeddingDim: 48, learningRate: 0.005, negatives: 4 },
      dataLocation: 'artifacts/daily_picks/2026-11-28/examples',
      rowCounts: { members: 5000, classes: 800, train: 1_200_000, validation: 80_000 },
      artifactPath: 'artifacts/models/daily_picks_ranker/v1',
      dagId: 'daily_picks',
      runId: 'scheduled__2026-11-28T05:00:00+00:00',
    };
    live = await registerModel(db, { ...trained, backend: 'wasm', metrics: metrics(0.3811), durationMs: 95_000 });
    await promoteModel(db, live.version, { by: 'admin1' });
    failed = await registerModel(db, { backend: 'cpu', status: 'failed', error: 'NaN loss at epoch 3', durationMs: 12_000 });
    better = await registerModel(db, { ...trained, backend: 'tensorflow', metrics: metrics(0.4634), durationMs: 41_500, artifactPath: 'artifacts/models/daily_picks_ranker/v3' });
    const running = await registerModel(db, { backend: 'wasm', params: { epochs: 6 } });

    const page = await newPage();
    await logIn(page, web.users.operator.username);
    await page.click('#nav a[data-nav=models]');
    await page.waitForSelector(row(better.version));

    // Newest first; the production row is marked; the metrics per candidate, the best marked.
    const versions = await page.$$eval('[data-testid=model-row]', (rows) => rows.map((r) => (r as HTMLElement).dataset.version));
    expect(versions).toEqual([running.version, better.version, failed.version, live.version]);
    await expect(page.getAttribute(row(live.version), 'class')).resolves.toContain('is-production');
    await expect(page.textContent(`${row(live.version)} [data-testid=model-stage]`)).resolves.toContain('production');
    await expect(page.textContent('.model-summary')).resolves.toContain(live.version);
    const cells = await page.$$eval(`${row(better.version)} [data-testid=model-metrics] tbody tr`, (trs) =>
      trs.map((tr) => [(tr as HTMLElement).dataset.candidate, ...Array.from(tr.querySelectorAll('td')).map((td) => td.textContent)]),
    );
    expect(cells).toEqual([
      ['ranker', '0.4634 ▲', '0.6634 ▲'],
      ['heuristics', '0.3012', '0.5104'],
      ['popularity', '0.1987', '0.3311'],
      ['baseline', '0.3521', '0.5573'],
    ]);
    await expect(page.locator(`${row(better.version)} td.best`).count()).resolves.toBe(2);
    await expect(page.textContent(`${row(better.version)}`)).resolves.toContain('tensorflow');
    await expect(page.textContent(`${row(failed.version)} [data-testid=model-metrics]`)).resolves.toBe('no metrics');

    // Only a succeeded, non-production version can be promoted.
    await expect(page.isDisabled(`${row(failed.version)} [data-testid=promote]`)).resolves.toBe(true);
    await expect(page.isDisabled(`${row(running.version)} [data-testid=promote]`)).resolves.toBe(true);
    await expect(page.isDisabled(`${row(live.version)} [data-testid=promote]`)).resolves.toBe(true);

    // Promote asks first, naming the model it archives; cancelling changes nothing.
    await page.click(`${row(better.version)} [data-testid=promote]`);
    await page.waitForSelector('[data-testid=confirm-dialog]');
    await expect(page.textContent('[data-testid=confirm-dialog]')).resolves.toContain(`${live.version}, will be archived`);
    await page.click('[data-testid=confirm-dialog] button:text-is("Cancel")');
    expect((await requireModel(db, better.version)).stage).toBe('candidate');

    await page.click(`${row(better.version)} [data-testid=promote]`);
    await page.click('[data-testid=confirm-submit]');
    await page.waitForSelector(`${row(better.version)}.is-production`);
    await expect(page.textContent(`${row(live.version)} [data-testid=model-stage]`)).resolves.toContain('archived');
    await expect(page.textContent('.model-summary')).resolves.toContain(better.version);
    await expect(page.textContent('#toast')).resolves.toContain(`${better.version} is in production (${live.version} archived)`);
    expect((await requireModel(db, better.version))).toMatchObject({ stage: 'production', promotedBy: web.users.operator.username });
    expect((await requireModel(db, live.version)).stage).toBe('archived');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'models.png') });

    // The detail view: parameters, data location, row counts, artifact path, all metrics.
    await page.click(`${row(better.version)} a.model-link`);
    await page.waitForSelector('[data-testid=model-detail]');
    await expect(page.textContent('[data-testid=model-data]')).resolves.toBe('artifacts/daily_picks/2026-11-28/examples');
    await expect(page.textContent('[data-testid=model-artifact]')).resolves.toBe('artifacts/models/daily_picks_ranker/v3');
    await expect(page.textContent('[data-testid=model-row-counts]')).resolves.toContain((1_200_000).toLocaleString());
    await expect(page.textContent('[data-testid=model-params]')).resolves.toMatch(/embeddingDim\s*48/);
    await expect(page.$$eval('[data-testid=model-detail] [data-testid=model-metrics] thead th', (ths) => ths.map((th) => th.textContent))).resolves.toEqual([
      'candidate',
      'ndcg@10',
      'recall@10',
      'map@10',
    ]);
    await expect(page.isDisabled('[data-testid=model-detail] [data-testid=promote]')).resolves.toBe(true);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'model-detail.png') });

    // The audit log shows the promotion by this operator.
    await page.click('#nav a[data-nav=audit]');
    await page.waitForSelector('[data-testid=audit] tr[data-action="model.promote"]');
    const entry = await page.textContent('[data-testid=audit] tr[data-action="model.promote"]');
    expect(entry).toContain(web.users.operator.username);
    expect(entry).toContain(better.version);
    await page.close();
  });

  it('a viewer sees the registry, but every Promote button is disabled and the API answers 403', async () => {
    const page = await newPage();
    await logIn(page, web.users.viewer.username);
    await page.goto(`${web.origin}/#/models`);
    await page.waitForSelector(row(live.version));
    const disabled = await page.$$eval('[data-testid=model-row] [data-testid=promote]', (buttons) => buttons.map((b) => (b as HTMLButtonElement).disabled));
    expect(disabled.length).toBe(4);
    expect(disabled.every(Boolean)).toBe(true);
    await expect(page.getAttribute(`${row(live.version)} [data-testid=promote]`, 'title')).resolves.toMatch(/operator role/);
    const status = await page.evaluate(async (version) => {
      const session = await (await fetch('/api/v1/session')).json();
      const res = await fetch(`/api/v1/models/${encodeURIComponent(version)}/promote`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken }, body: '{}' });
      return res.status;
    }, live.version);
    expect(status).toBe(403);
    expect((await requireModel(web.harness.db, live.version)).stage).toBe('archived');
    await page.close();
  });
});
