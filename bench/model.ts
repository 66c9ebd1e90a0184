/**
 * Ranker benchmark, without the database: the seed generator's data in memory
 * (`syntheticDataset`), the two-tower ranker trained on it (`trainRanker`), every member with
 * history ranked (`RankerScorer`), and its quality on a time holdout next to popularity, the
 * heuristics and ItemKNN. Speeds are set against matmuls on the same backend in the same run
 * (these machines are shared and noisy), so the ratios compare across runs.
 *
 *   npm run bench:model [-- --json] [--members N] [--classes N] [--days N] [--seed S]
 *                       [--backend wasm|cpu|tensorflow] [--epochs E] [--top N]
 *
 * `--help` lists the flags and their defaults; a bad value or an unknown flag exits 2 before
 * anything runs (the shared parser, bench/support/flags.ts).
 *
 * `--backend` is a preference (selectBackend falls back, logged); without it FLYWHEEL_TF_BACKEND
 * is honoured. Progress and backend lines go to stderr; stdout carries the table or, with
 * `--json`, one JSON object.
 *
 * Targets (issue): rankToMatmul ≥ 0.5, ndcgVsHeuristics ≥ 1.3, ndcgVsBaseline ≥ 1.0.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, TF_BACKEND_NAMES, type SelectedBackend, type TfBackendName } from '../model/backend.ts';
import { evaluateHoldout, heuristicsCandidate, holdoutSplit, itemKnnCandidate, popularityCandidate, rankerCandidate } from '../model/evaluation/holdout.ts';
import { RankerScorer } from '../model/ranker/scorer.ts';
import { trainRanker, type TrainedRanker } from '../model/ranker/trainer.ts';
import { syntheticDataset } from '../daily-picks/source/synthetic-data.ts';
import type { Catalogue } from '../model/data/catalogue.ts';
import type { History } from '../model/data/history.ts';
import { DAY_MS } from '../model/data/time.ts';
import { choice, parseBenchFlags, positiveInteger } from './support/flags.ts';

const TARGETS = { rankToMatmul: 0.5, ndcgVsHeuristics: 1.3, ndcgVsBaseline: 1.0 } as const;
const UNTIL = new Date('2026-11-01T00:00:00Z');
const HOLDOUT_DAYS = 3;
const VALIDATION_DAYS = 1;
const RANK_BATCH = 2048;
const EVAL_MEMBERS = 20_000;
const SQUARE = 1024;
const MATMUL_RUNS = 7;

interface Options {
  json: boolean;
  members: number;
  classes: number;
  days: number;
  seed: number;
  backend?: TfBackendName;
  epochs?: number;
  top: number;
}

function parseOptions(argv: readonly string[]): Options {
  return parseBenchFlags(
    {
      name: 'bench:model',
      description: 'Ranker benchmark without the database: the two-tower ranker trained on generated data, every member ranked, holdout quality next to popularity, the heuristics and ItemKNN; speeds against matmuls on the same backend.',
      flags: {
        members: positiveInteger('N', 'members', 20_000),
        classes: positiveInteger('N', 'classes', 2_000),
        days: positiveInteger('N', 'days of history', 60),
        seed: positiveInteger('S', 'seed of the generated data', 1),
        backend: choice('name', 'tfjs backend to try first (default: FLYWHEEL_TF_BACKEND, else the fastest)', TF_BACKEND_NAMES),
        epochs: positiveInteger('E', "training epochs (default: the trainer's)"),
        top: positiveInteger('N', 'classes kept per member when ranking', 100),
      },
      environment: 'FLYWHEEL_TF_BACKEND  the tfjs backend to try first when --backend is not given',
    },
    argv,
  );
}

const say = (message: string) => void process.stderr.write(`${message}\n`);
const seconds = (since: number) => (performance.now() - since) / 1000;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function generate(options: Options): { catalogue: Catalogue; history: History; seconds: number } {
  say(`generating ${options.members} members × ${options.classes} classes × ${options.days} days (seed ${options.seed}) …`);
  const started = performance.now();
  const data = syntheticDataset({ members: options.members, classes: options.classes, days: options.days, seed: options.seed, until: UNTIL });
  return { ...data, seconds: seconds(started) };
}

async function train(catalogue: Catalogue, history: History, options: Options, testFrom: number): Promise<TrainedRanker> {
  say('training …');
  return trainRanker({
    catalogue,
    history,
    validationFrom: testFrom - VALIDATION_DAYS * DAY_MS,
    trainBefore: testFrom,
    options: options.epochs === undefined ? {} : { epochs: options.epochs },
    log: (m) => say(`  ${m}`),
  });
}

/** Every member with history ranked as of `UNTIL`, top `top`, in batches of RANK_BATCH: timed after one warm-up batch. */
function rank(model: TrainedRanker, catalogue: Catalogue, history: History, top: number) {
  say('ranking every member with history …');
  const scorer = new RankerScorer(model, catalogue, UNTIL.getTime(), RANK_BATCH);
  const all: number[] = [];
  for (let m = 0; m < history.memberCount; m++) if (history.offsets[m + 1]! > history.offsets[m]!) all.push(m);
  const members = Int32Array.from(all);
  const ends = Int32Array.from(members, (m) => history.offsets[m + 1]!);
  const batch = (s: number) => scorer.score(history, members.subarray(s, s + RANK_BATCH), ends.subarray(s, s + RANK_BATCH), top);
  batch(0);
  const started = performance.now();
  for (let s = 0; s < members.length; s += RANK_BATCH) batch(s);
  const elapsed = seconds(started);
  // The scoring matmul's inner dimension: class vectors plus the member × class cross columns.
  const dim = scorer.width;
  scorer.dispose();
  return { members: members.length, dim, seconds: elapsed, membersPerSec: members.length / elapsed, gflops: (2 * members.length * catalogue.size * dim) / elapsed / 1e9 };
}

/** GFLOP/s of [m × k] · [k × n] on the current backend: two warm-ups, then the median (and best) of MATMUL_RUNS. */
function matmulGflops(m: number, k: number, n: number): { median: number; best: number } {
  const a = tf.randomUniform<tf.Rank.R2>([m, k], -1, 1, 'float32', 1);
  const b = tf.randomUniform<tf.Rank.R2>([k, n], -1, 1, 'float32', 2);
  const once = () => {
    const started = performance.now();
    // The last element depends on the whole product: reading it forces completion without copying [m × n] back.
    tf.tidy(() => tf.slice(tf.matMul(a, b), [m - 1, n - 1], [1, 1]).dataSync());
    return (2 * m * k * n) / seconds(started) / 1e9;
  };
  once();
  once();
  const runs = Array.from({ length: MATMUL_RUNS }, once);
  a.dispose();
  b.dispose();
  return { median: median(runs), best: Math.max(...runs) };
}

function quality(model: TrainedRanker, catalogue: Catalogue, history: History, testFrom: number) {
  say(`holdout evaluation (up to ${EVAL_MEMBERS} members) …`);
  const started = performance.now();
  const split = holdoutSplit(catalogue, history, testFrom, UNTIL.getTime(), { maxMembers: EVAL_MEMBERS });
  const metrics = evaluateHoldout(split, catalogue.size, [
    popularityCandidate(catalogue, split),
    heuristicsCandidate(catalogue, split),
    itemKnnCandidate(catalogue, split),
    rankerCandidate('ranker', model, catalogue, split),
  ]);
  return { members: split.members.length, seconds: seconds(started), metrics };
}

function target(value: number, min: number) {
  return { value, min, met: Number.isFinite(value) && value >= min };
}

const options = parseOptions(process.argv.slice(2));
const started = performance.now();
const backend: SelectedBackend = await selectBackend({ ...(options.backend ? { prefer: options.backend } : {}), log: say });
const data = generate(options);
const testFrom = UNTIL.getTime() - HOLDOUT_DAYS * DAY_MS;
const model = await train(data.catalogue, data.history, options, testFrom);
const ranked = rank(model, data.catalogue, data.history, options.top);
say('reference matmuls …');
const square = matmulGflops(SQUARE, SQUARE, SQUARE);
const scoring = matmulGflops(RANK_BATCH, ranked.dim, data.catalogue.size);
const holdout = quality(model, data.catalogue, data.history, testFrom);
model.network.dispose();

const ndcg = (name: string) => holdout.metrics[name]?.['ndcg@10'] ?? Number.NaN;
const report = {
  backend: backend.name,
  backendDetail: backend.detail,
  cpus: os.cpus().length,
  members: data.history.memberCount,
  classes: data.catalogue.size,
  days: options.days,
  seed: options.seed,
  until: UNTIL.toISOString(),
  rows: data.history.workoutCount,
  generateSeconds: data.seconds,
  trainExamplesPerSec: model.stats.examplesPerSec,
  trainSeconds: model.stats.seconds,
  trainExamples: model.stats.examples,
  epochs: model.stats.epochs,
  bestEpoch: model.stats.bestEpoch,
  validationNll: model.stats.validationNll,
  calibratedNll: model.stats.calibratedNll,
  temperature: model.temperature,
  dim: ranked.dim,
  top: options.top,
  rankBatch: RANK_BATCH,
  rankMembers: ranked.members,
  rankSeconds: ranked.seconds,
  rankMembersPerSec: ranked.membersPerSec,
  rankGflops: ranked.gflops,
  rankGflopsNote: 'FLOPs = 2 · members · classes · width (the scoring matmul: class vectors plus cross columns); the time also includes the member tower, masking, softmax and top-k',
  matmulGflops: square.median,
  matmulBestGflops: square.best,
  scoringMatmulGflops: scoring.median,
  scoringMatmulBestGflops: scoring.best,
  rankToMatmul: ranked.gflops / square.median,
  rankToScoringMatmul: ranked.gflops / scoring.median,
  evaluatedMembers: holdout.members,
  evaluateSeconds: holdout.seconds,
  quality: holdout.metrics,
  ndcgVsHeuristics: ndcg('ranker') / ndcg('heuristics'),
  ndcgVsBaseline: ndcg('ranker') / ndcg('baseline'),
  totalSeconds: seconds(started),
  targets: {} as Record<string, { value: number; min: number; met: boolean }>,
};
report.targets = {
  rankToMatmul: target(report.rankToMatmul, TARGETS.rankToMatmul),
  ndcgVsHeuristics: target(report.ndcgVsHeuristics, TARGETS.ndcgVsHeuristics),
  ndcgVsBaseline: target(report.ndcgVsBaseline, TARGETS.ndcgVsBaseline),
};

function table(r: typeof report): string {
  const f = (v: number | undefined, d = 2) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d));
  const lines = [
    `Ranker on ${r.backendDetail}, ${r.cpus} CPUs: ${r.members} members × ${r.classes} classes × ${r.days} days (seed ${r.seed}), ${r.rows} workouts (generated in ${f(r.generateSeconds, 1)} s)`,
    `train:  ${f(r.trainExamplesPerSec, 0)} examples/s, ${r.epochs} epoch${r.epochs === 1 ? '' : 's'} (best ${r.bestEpoch}) in ${f(r.trainSeconds, 1)} s, ${r.trainExamples} examples; validation NLL ${f(r.validationNll, 4)} → ${f(r.calibratedNll, 4)} at T ${f(r.temperature, 3)}`,
    `rank:   ${r.rankMembers} members, top ${r.top}, batches of ${r.rankBatch}, in ${f(r.rankSeconds, 2)} s: ${f(r.rankMembersPerSec, 0)} members/s, ${f(r.rankGflops)} GFLOP/s`,
    `        (FLOPs of the scoring matmul 2·members·classes·width, width ${r.dim} = class vector + crosses; the time includes the member tower, masking, softmax and top-k)`,
    `matmul: ${SQUARE}³ ${f(r.matmulGflops)} GFLOP/s (median of ${MATMUL_RUNS}, best ${f(r.matmulBestGflops)}); scoring shape ${r.rankBatch}×${r.dim}·${r.dim}×${r.classes} ${f(r.scoringMatmulGflops)} GFLOP/s (best ${f(r.scoringMatmulBestGflops)})`,
    `        rank / matmul ${f(r.rankToMatmul, 3)}, rank / scoring matmul ${f(r.rankToScoringMatmul, 3)}`,
    `holdout: last ${HOLDOUT_DAYS} days, ${r.evaluatedMembers} members (${f(r.evaluateSeconds, 1)} s)`,
    `  ${'candidate'.padEnd(11)} ${['ndcg@10', 'recall@10', 'recall@50', 'coverage@10', 'ece'].map((h) => h.padStart(11)).join(' ')}`,
  ];
  for (const [name, m] of Object.entries(r.quality)) {
    lines.push(`  ${name.padEnd(11)} ${[m['ndcg@10'], m['recall@10'], m['recall@50'], m['coverage@10'], m['ece']].map((v) => f(v, 4).padStart(11)).join(' ')}`);
  }
  lines.push('targets:');
  for (const [name, t] of Object.entries(r.targets)) lines.push(`  ${name.padEnd(17)} ${f(t.value, 3).padStart(7)} ≥ ${t.min}  ${t.met ? 'met' : 'NOT met'}`);
  lines.push(`total ${f(r.totalSeconds, 1)} s`);
  return lines.join('\n');
}

process.stdout.write(`${options.json ? JSON.stringify(report, null, 2) : table(report)}\n`);
