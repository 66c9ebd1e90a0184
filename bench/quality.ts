/**
 * Recommendation quality of the Daily Picks pipeline on your own interactions (MovieLens, say):
 * holds out the last 20% of each member's interactions, imports the rest into a database of its
 * own with the real importers, runs the real `daily_picks` DAG (`dags test`: scheduler, workers,
 * sandboxes, training), and scores the published `ranked` row of every held-out member —
 * NDCG@10 and Recall@10 — next to each candidate model scored on the same split: popularity,
 * the heuristics, ItemKNN (`baseline`), EASE and the ranker the run trained.
 *
 *   npm run bench:quality -- --interactions F.csv --user-col C --item-col C --time-col C
 *     [--items F.csv [--items-item-col C] [--title-col C] [--category-col C] [--duration-col C] [--creator-col C]]
 *     [--logical-date ISO] [--holdout-percent 20] [--min-interactions 5] [--timeout-minutes 60] [--json]
 *
 * The split (per member, not by a global date): a member's interactions are ordered by time (ties
 * in file order); a member with at least 5 holds out the last floor(20% · n) — so at least one —
 * and the rest go to training; a member with fewer than 5 keeps them all in training and is not
 * evaluated. Relevant for a member: the items of their held-out part that are not in their
 * training part (the pipeline never recommends a class a member already took, so a repeat could
 * never be hit). Held-out items the catalogue does not know (never seen in training and not in
 * `--items`) stay relevant: every ranking misses them. A member whose held-out part is only
 * repeats is not evaluated. Every candidate ranks the whole catalogue as of the run's clock
 * (`loadInputs`' as-of), with the member's training classes excluded.
 *
 * `--item-col` names the item id column of both files; `--items-item-col` overrides it for the
 * items file. MovieLens files need converting first: bench/support/movielens-csv.ts.
 *
 * Environment: BENCH_QUALITY_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/flywheel_bench_quality;
 * dropped and created again on every run, kept afterwards for inspection), REDIS_URL,
 * BENCH_ARTIFACTS_DIR (default a fresh temp folder, removed after).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import pg from 'pg';
import { runDagTest, type DagTestResult } from '../cli/dag-test.ts';
import { loadConfig } from '../core/config.ts';
import type { ExtractResult } from '../daily-picks/extract.ts';
import { resolveOptions } from '../daily-picks/options.ts';
import type { TrainResult } from '../daily-picks/ranker/train-step.ts';
import { SourceInputError } from '../daily-picks/source/errors.ts';
import { importInteractions, importItems } from '../daily-picks/source/import-csv.ts';
import { loadInputs, type ModelRanking, type RowsResult } from '../daily-picks/steps.ts';
import { selectBackend } from '../model/backend.ts';
import type { Catalogue } from '../model/data/catalogue.ts';
import type { History } from '../model/data/history.ts';
import { Ease } from '../model/baselines/ease.ts';
import { easeCandidate, evaluateHoldout, heuristicsCandidate, itemKnnCandidate, popularityCandidate, rankerCandidate, type HoldoutCandidate, type HoldoutSplit } from '../model/evaluation/holdout.ts';
import { RankingEvaluator } from '../model/evaluation/metrics.ts';
import { loadRanker } from '../model/ranker/artifact.ts';
import type { RankerModel } from '../model/ranker/scorer.ts';
import { integerIn, parseBenchFlags, positiveInteger, text, type Flag } from './support/flags.ts';
import { recreateBenchDatabase } from './support/fresh-database.ts';
import { splitInteractions, TRAIN_COLUMNS, type MemberHoldout } from './support/member-holdout.ts';

/** The cut-off of every metric: the first 10 of a row. */
const K = 10;

function isoDate(arg: string, description: string): Flag<Date | undefined> {
  return {
    arg,
    description,
    default: undefined,
    parse: (raw) => {
      const date = new Date(raw);
      if (raw.trim() === '' || Number.isNaN(date.getTime())) throw new InvalidArgumentError('must be an ISO 8601 date or time');
      return date;
    },
  };
}

const values = parseBenchFlags({
  name: 'bench:quality',
  description:
    'Recommendation quality on your own interactions: the last 20% of each member\'s interactions held out, the rest imported into a database of its own, the real daily_picks DAG run, and NDCG@10 / Recall@10 of the published `ranked` row next to popularity, heuristics, ItemKNN, EASE and the ranker on the same split.',
  flags: {
    interactions: text('FILE', 'interactions CSV with a header row (required)'),
    userCol: text('C', 'member id column of the interactions (required)'),
    itemCol: text('C', 'item id column of the interactions, and of --items unless --items-item-col (required)'),
    timeCol: text('C', 'time column of the interactions: unix seconds or ISO 8601 (required)'),
    items: text('FILE', 'items CSV with a header row (optional)'),
    itemsItemCol: text('C', 'item id column of --items (default: --item-col)'),
    titleCol: text('C', 'title column of --items'),
    categoryCol: text('C', 'category column of --items (→ discipline)'),
    durationCol: text('C', 'duration column of --items, in minutes'),
    creatorCol: text('C', 'creator column of --items (→ instructor)'),
    logicalDate: isoDate('ISO', 'logical date of the DAG run (default: now, as `dags test`)'),
    holdoutPercent: integerIn('P', "percent of each member's interactions held out (the latest)", 1, 99, 20),
    minInteractions: positiveInteger('N', 'members with fewer interactions keep them all in training and are not evaluated', 5),
    timeoutMinutes: positiveInteger('N', 'give up on the DAG run after this many minutes', 60),
  },
  environment: [
    'BENCH_QUALITY_DATABASE_URL  default postgres://postgres@127.0.0.1:5432/flywheel_bench_quality',
    '                            (dropped and created again on every run; its name must contain "bench")',
    'REDIS_URL',
    'BENCH_ARTIFACTS_DIR         default a fresh temp folder (removed after)',
    'FLYWHEEL_TF_BACKEND         tensorflow, wasm or cpu (training and the ranker candidate)',
  ].join('\n'),
});

function usageError(message: string): never {
  process.stderr.write(`error: ${message}\n(add --help to list the flags)\n`);
  process.exit(2);
}

const missing = (['interactions', 'userCol', 'itemCol', 'timeCol'] as const).filter((key) => values[key] === undefined);
if (missing.length > 0) usageError(`${missing.map((key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} required`);
const itemFlags = (['itemsItemCol', 'titleCol', 'categoryCol', 'durationCol', 'creatorCol'] as const).filter((key) => values[key] !== undefined);
if (values.items === undefined && itemFlags.length > 0) usageError(`${itemFlags.map((key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} need --items`);
const interactionsFile = values.interactions!;
const columns = { userCol: values.userCol!, itemCol: values.itemCol!, timeCol: values.timeCol! };

const databaseUrl = process.env.BENCH_QUALITY_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/flywheel_bench_quality';
const say = (message: string) => {
  if (!values.json) process.stderr.write(`${message}\n`);
};
const iso = (seconds: number) => (Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : null);
const round = (value: number, digits = 4) => Math.round(value * 10 ** digits) / 10 ** digits;

type Metrics = { ndcg: number; recall: number; coverage: number; members: number };
type ResultRow = { what: string; ndcgAt10: number; recallAt10: number; coverageAt10: number; members: number; seconds: number; note?: string };

function metricsOf(result: Record<string, number>): Metrics {
  return { ndcg: result[`ndcg@${K}`] ?? Number.NaN, recall: result[`recall@${K}`] ?? Number.NaN, coverage: result[`coverage@${K}`] ?? Number.NaN, members: result.members ?? 0 };
}

function taskOf(result: DagTestResult, taskId: string) {
  return result.tasks.find((t) => t.taskId === taskId);
}

function dagFailure(result: DagTestResult): string {
  const failed = result.tasks.filter((t) => t.state !== 'success' && t.state !== 'skipped');
  const lines = [`daily_picks run ${result.runId} ended ${result.state} after ${(result.durationMs / 1000).toFixed(1)} s`];
  for (const t of failed) lines.push(`  ${t.taskId}: ${t.state}${t.error ? ` — ${t.error.split('\n').slice(0, 3).join(' / ').slice(0, 600)}` : ''}`);
  return lines.join('\n');
}

/** The split's item space: catalogue indices, then one index per item id the catalogue does not know. */
class ItemSpace {
  private readonly unknown = new Map<string, number>();
  constructor(private readonly catalogue: Catalogue) {}
  indexOf(itemId: string): number {
    const known = this.catalogue.index.get(itemId);
    if (known !== undefined) return known;
    let extra = this.unknown.get(itemId);
    if (extra === undefined) this.unknown.set(itemId, (extra = this.catalogue.size + this.unknown.size));
    return extra;
  }
  get unknownItems(): number {
    return this.unknown.size;
  }
}

/**
 * The evaluation split over the run's history: `train` is the whole history the run read (the
 * imported training part), the members are the held-out ones with a relevant item, every class is
 * on offer, and the test starts at the run's clock.
 */
function buildSplit(catalogue: Catalogue, history: History, asOf: number, heldOut: MemberHoldout, items: ItemSpace) {
  const members: number[] = [];
  const memberIds: string[] = [];
  const relevant: Set<number>[] = [];
  const next: number[] = [];
  let onlyRepeats = 0;
  let notInHistory = 0;
  let relevantPairs = 0;
  let relevantUnknown = 0;
  for (const member of heldOut.heldOut) {
    const wanted = new Set<number>();
    let first = -1;
    for (const id of member.items) {
      if (member.trainItems.has(id)) continue;
      const c = items.indexOf(id);
      if (wanted.has(c)) continue;
      if (first < 0) first = c;
      wanted.add(c);
      if (c >= catalogue.size) relevantUnknown += 1;
    }
    if (wanted.size === 0) {
      onlyRepeats += 1;
      continue;
    }
    const m = history.memberIndex.get(member.memberId);
    if (m === undefined) {
      notInHistory += 1;
      continue;
    }
    members.push(m);
    memberIds.push(member.memberId);
    relevant.push(wanted);
    next.push(first);
    relevantPairs += wanted.size;
  }
  const split: HoldoutSplit = {
    kind: 'latest',
    testFrom: asOf,
    testTo: Math.max(asOf, Number.isFinite(heldOut.heldOutLast) ? heldOut.heldOutLast * 1000 + 1 : asOf),
    train: history,
    members: Int32Array.from(members),
    relevant,
    next: Int32Array.from(next),
    onOffer: new Uint8Array(catalogue.size).fill(1),
  };
  return { split, memberIds, onlyRepeats, notInHistory, relevantPairs, relevantUnknown };
}

/** The published `ranked` row's first K classes of every member, with the model that served it. */
async function servedRows(pool: pg.Pool): Promise<Map<string, { classIds: string[]; modelVersion: string }>> {
  const result = await pool.query<{ member_id: string; class_id: string; model_version: string }>(
    `select member_id, class_id, model_version from picks where row = 'ranked' and position <= $1 order by member_id, position`,
    [K],
  );
  const rows = new Map<string, { classIds: string[]; modelVersion: string }>();
  for (const r of result.rows) {
    let row = rows.get(r.member_id);
    if (!row) rows.set(r.member_id, (row = { classIds: [], modelVersion: r.model_version }));
    row.classIds.push(r.class_id);
  }
  return rows;
}

const artifactsDir = process.env.BENCH_ARTIFACTS_DIR ?? (await mkdtemp(path.join(os.tmpdir(), 'flywheel-bench-quality-')));
const scratch = await mkdtemp(path.join(os.tmpdir(), 'flywheel-bench-quality-split-'));
process.env.DATABASE_URL = databaseUrl;
process.env.ARTIFACTS_DIR = artifactsDir;
process.env.FLYWHEEL_LOG_LEVEL ??= 'warn';
process.env.FLYWHEEL_QUEUE_PREFIX ??= 'bench-quality';
let pool: pg.Pool | null = null;
try {
  // 1. The split.
  const trainFile = path.join(scratch, 'train-interactions.csv');
  say(`splitting ${interactionsFile}: the last ${values.holdoutPercent}% of each member's interactions held out (members with ≥ ${values.minInteractions}) …`);
  const splitStarted = performance.now();
  const heldOut = await splitInteractions(interactionsFile, columns, { percent: values.holdoutPercent, minInteractions: values.minInteractions }, trainFile);
  const splitSeconds = (performance.now() - splitStarted) / 1000;
  say(`  ${heldOut.rows} interactions of ${heldOut.members} members: ${heldOut.trainRows} train, ${heldOut.heldOutRows} held out from ${heldOut.heldOut.length} members (${splitSeconds.toFixed(1)} s)`);
  if (heldOut.heldOut.length === 0) throw new Error(`no member has ${values.minInteractions} or more interactions: nothing to hold out`);

  // 2. A fresh database, the real imports, the real DAG.
  say(`database ${databaseUrl}: dropping, creating, migrating …`);
  await recreateBenchDatabase(databaseUrl);
  pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const importStarted = performance.now();
  let itemsImported: number | null = null;
  if (values.items !== undefined) {
    const items = await importItems(pool, {
      file: values.items,
      itemCol: values.itemsItemCol ?? columns.itemCol,
      ...(values.titleCol !== undefined ? { titleCol: values.titleCol } : {}),
      ...(values.categoryCol !== undefined ? { categoryCol: values.categoryCol } : {}),
      ...(values.durationCol !== undefined ? { durationCol: values.durationCol } : {}),
      ...(values.creatorCol !== undefined ? { creatorCol: values.creatorCol } : {}),
    });
    itemsImported = items.classesAdded;
    say(`  imported ${items.classesAdded} items from ${values.items}`);
  }
  const imported = await importInteractions(pool, { file: trainFile, ...TRAIN_COLUMNS });
  const importSeconds = (performance.now() - importStarted) / 1000;
  say(`  imported ${imported.workouts} training interactions, ${imported.membersAdded} members, ${imported.placeholderClasses} items known only from interactions (${importSeconds.toFixed(1)} s)`);

  const config = loadConfig();
  say(`running daily_picks${values.logicalDate ? ` (logical date ${values.logicalDate.toISOString()})` : ''} …`);
  const result = await runDagTest(config, 'daily_picks', { timeoutMs: values.timeoutMinutes * 60_000, ...(values.logicalDate ? { logicalDate: values.logicalDate } : {}) });
  const taskSeconds = Object.fromEntries(result.tasks.map((t) => [t.taskId, t.durationMs === null ? null : round(t.durationMs / 1000, 1)]));
  if (result.state !== 'success') {
    const timedOut = result.state !== 'failed' ? ` (still ${result.state} after --timeout-minutes ${values.timeoutMinutes})` : '';
    process.stderr.write(`bench:quality: the DAG run did not succeed${timedOut}; no picks to score.\n${dagFailure(result)}\n`);
    if (values.json) process.stdout.write(`${JSON.stringify({ error: 'dag run failed', runId: result.runId, state: result.state, tasks: result.tasks.map((t) => ({ taskId: t.taskId, state: t.state, error: t.error })) }, null, 2)}\n`);
    process.exitCode = 1;
  } else {
    say(`  ${result.state} in ${(result.durationMs / 1000).toFixed(1)} s`);
    const extract = taskOf(result, 'extract')?.output as ExtractResult | null | undefined;
    if (!extract) throw new Error('the extract task has no output');
    const train = taskOf(result, 'train');
    const trained = train?.state === 'success' ? (train.output as TrainResult | null) : null;
    const selected = (taskOf(result, 'select_ranking')?.output ?? null) as ModelRanking | null;
    const rows = (taskOf(result, 'filter_rows')?.output ?? null) as RowsResult | null;

    // 3. The split over the run's own history and catalogue.
    const { catalogue, history, asOf } = await loadInputs(extract, resolveOptions());
    const notes: string[] = [];
    if (Number.isFinite(heldOut.trainLast) && heldOut.trainLast * 1000 >= Date.parse(extract.asOf)) {
      notes.push(
        `the run's as-of time ${extract.asOf} is not after the last training interaction (${iso(heldOut.trainLast)}): the pipeline did not see all of the training part (pass a later --logical-date)`,
      );
    }
    const items = new ItemSpace(catalogue);
    const built = buildSplit(catalogue, history, asOf, heldOut, items);
    const { split } = built;
    if (split.members.length === 0) throw new Error('no held-out member has a relevant item (one not already in their training part) in the run\'s history');
    if (built.notInHistory > 0) notes.push(`${built.notInHistory} held-out members are not in the run's history (not evaluated)`);

    // 4. The served row.
    const served = await servedRows(pool);
    const servedEvaluator = new RankingEvaluator({ ndcgAt: [K], recallAt: [K], coverageAt: [K] });
    const servedBy: Record<string, number> = {};
    for (let i = 0; i < split.members.length; i++) {
      const row = served.get(built.memberIds[i]!);
      const by = row?.modelVersion ?? '(no ranked row)';
      servedBy[by] = (servedBy[by] ?? 0) + 1;
      servedEvaluator.add({ ranked: (row?.classIds ?? []).map((id) => items.indexOf(id)), relevant: split.relevant[i]! });
    }
    const results: ResultRow[] = [];
    const push = (what: string, metrics: Metrics, seconds: number, note?: string) =>
      results.push({ what, ndcgAt10: round(metrics.ndcg), recallAt10: round(metrics.recall), coverageAt10: round(metrics.coverage), members: metrics.members, seconds: round(seconds, 1), ...(note ? { note } : {}) });
    push('served ranked row', metricsOf(servedEvaluator.result(catalogue.size)), 0);

    // 5. The candidates, one at a time (a failing one is reported, not fatal).
    const candidates: { what: string; make: () => HoldoutCandidate | Promise<HoldoutCandidate>; note?: string }[] = [
      { what: 'popularity', make: () => popularityCandidate(catalogue, split) },
      { what: 'heuristics', make: () => heuristicsCandidate(catalogue, split) },
      { what: 'baseline (ItemKNN)', make: () => itemKnnCandidate(catalogue, split) },
      { what: 'ease', make: () => easeCandidate(catalogue, split) },
      // The textbook EASE the issue measured against (λ = 300, history unweighted): a fixed reference across datasets.
      { what: 'ease (λ 300, unweighted)', make: () => easeCandidate(catalogue, split, Ease.fit(split.train, catalogue.size, { lambda: 300 }), null) },
    ];
    const loaded: { ranker: RankerModel | null } = { ranker: null };
    if (trained?.trained.artifactPath) {
      candidates.push({
        what: `ranker (${trained.trained.version})`,
        make: async () => {
          await selectBackend({ log: say });
          loaded.ranker = await loadRanker(trained.trained.artifactPath);
          return rankerCandidate('ranker', loaded.ranker, catalogue, split);
        },
      });
    } else {
      notes.push(`no ranker to score: the train task ${train ? `ended ${train.state}${train.error ? ` (${train.error.split('\n')[0]!.slice(0, 300)})` : ''}` : 'is not in the run'}`);
    }
    for (const { what, make } of candidates) {
      say(`scoring ${what} …`);
      const started = performance.now();
      try {
        const candidate = await make();
        const metrics = evaluateHoldout(split, catalogue.size, [candidate]);
        push(what, metricsOf(metrics[candidate.name]!), (performance.now() - started) / 1000);
      } catch (error) {
        notes.push(`${what} could not be scored: ${(error as Error).message}`);
      }
    }
    loaded.ranker?.network.dispose();

    const report = {
      interactionsFile,
      itemsFile: values.items ?? null,
      split: {
        rule: `per member, by time: the last floor(${values.holdoutPercent}% · n) of each member's n interactions held out when n ≥ ${values.minInteractions}`,
        relevance: "held-out items not in the member's training part; items unknown to the catalogue count as misses",
        holdoutPercent: values.holdoutPercent,
        minInteractions: values.minInteractions,
        k: K,
      },
      interactions: { read: heldOut.rows, train: heldOut.trainRows, heldOut: heldOut.heldOutRows, trainFrom: iso(heldOut.trainFirst), trainTo: iso(heldOut.trainLast), heldOutFrom: iso(heldOut.heldOutFirst), heldOutTo: iso(heldOut.heldOutLast) },
      members: {
        total: heldOut.members,
        withHeldOut: heldOut.heldOut.length,
        evaluated: split.members.length,
        onlyRepeatsHeldOut: built.onlyRepeats,
        notInHistory: built.notInHistory,
        relevantPairs: built.relevantPairs,
      },
      items: { catalogue: catalogue.size, imported: itemsImported, knownOnlyFromInteractions: imported.placeholderClasses, heldOutUnknownToCatalogue: items.unknownItems, relevantPairsUnknownToCatalogue: built.relevantUnknown },
      dag: {
        runId: result.runId,
        state: result.state,
        logicalDate: values.logicalDate?.toISOString() ?? null,
        asOf: extract.asOf,
        clock: new Date(asOf).toISOString(),
        historyWorkouts: history.workoutCount,
        wallSeconds: round(result.durationMs / 1000, 1),
        trainSeconds: taskSeconds.train ?? null,
        taskSeconds,
      },
      served: {
        byModelVersion: servedBy,
        rowSources: rows?.sources ?? null,
        selectedRanking: selected?.modelVersion ?? null,
        trained: trained ? { version: trained.trained.version, promoted: trained.trained.promoted, reason: trained.trained.reason, serving: trained.serving?.version ?? null, backend: trained.backend } : null,
        servingPlan: trained?.serving?.plan ?? null,
        trainHoldoutMetrics: trained?.metrics ?? null,
      },
      results,
      notes,
      seconds: { split: round(splitSeconds, 1), import: round(importSeconds, 1) },
      cpus: os.cpus().length,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const f = (v: number, digits = 4) => (Number.isFinite(v) ? v.toFixed(digits) : '—');
      const width = Math.max(24, ...results.map((r) => r.what.length + 2));
      const lines = [
        `Daily Picks quality: ${interactionsFile}${values.items ? ` + ${values.items}` : ''}`,
        `split: last ${values.holdoutPercent}% of each member's interactions by time held out (members with ≥ ${values.minInteractions}); relevant = held-out items not in the member's training part`,
        `interactions: ${heldOut.rows} read, ${heldOut.trainRows} train (${iso(heldOut.trainFirst)} … ${iso(heldOut.trainLast)}), ${heldOut.heldOutRows} held out`,
        `members: ${heldOut.members}, ${heldOut.heldOut.length} with a held-out part, ${split.members.length} evaluated (${built.onlyRepeats} held out only repeats); ${built.relevantPairs} relevant (member, item) pairs`,
        `items: ${catalogue.size} in the run's catalogue${items.unknownItems > 0 ? `; ${items.unknownItems} held-out items unknown to it (${built.relevantUnknown} relevant pairs, always missed)` : ''}`,
        `DAG run ${result.runId}: ${result.state} in ${(result.durationMs / 1000).toFixed(1)} s, train ${taskSeconds.train ?? '—'} s; as of ${extract.asOf}, clock ${new Date(asOf).toISOString()}`,
        `  tasks: ${Object.entries(taskSeconds).map(([task, s]) => `${task} ${s ?? '—'} s`).join(', ')}`,
        `served (evaluated members' ranked rows): ${Object.entries(servedBy).map(([by, n]) => `${by} ${n}`).join(', ')}`,
        `  all rows: ${rows ? Object.entries(rows.sources).map(([s, n]) => `${s} ${n}`).join(', ') : '—'}; selected ranking: ${selected?.modelVersion ?? 'none (heuristic rows)'}`,
        `  trained: ${trained ? `${trained.trained.version}, ${trained.trained.promoted ? 'promoted' : 'not promoted'} (${trained.trained.reason}) on ${trained.backend}` : '—'}`,
        ...(trained?.serving?.plan ? [`  serving plan of ${trained.serving.version}: ${Object.entries(trained.serving.plan.segments).map(([segment, candidate]) => `${segment} → ${candidate}`).join(', ')}`] : []),
        '',
        `${'what'.padEnd(width)}${'NDCG@10'.padStart(9)}${'Recall@10'.padStart(11)}${'Coverage@10'.padStart(13)}${'members'.padStart(9)}${'seconds'.padStart(9)}`,
        ...results.map((r) => `${r.what.padEnd(width)}${f(r.ndcgAt10).padStart(9)}${f(r.recallAt10).padStart(11)}${f(r.coverageAt10).padStart(13)}${String(r.members).padStart(9)}${(r.what === 'served ranked row' ? '' : r.seconds.toFixed(1)).padStart(9)}`),
        ...(notes.length > 0 ? ['', ...notes.map((n) => `note: ${n}`)] : []),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
  }
} catch (error) {
  // Bad input (a missing column, bad rows) exits 2, as a bad flag does; anything else 1.
  process.stderr.write(`bench:quality: ${(error as Error).message}\n`);
  process.exitCode = error instanceof SourceInputError ? 2 : 1;
} finally {
  await pool?.end();
  await rm(scratch, { recursive: true, force: true });
  if (!process.env.BENCH_ARTIFACTS_DIR) await rm(artifactsDir, { recursive: true, force: true });
}
