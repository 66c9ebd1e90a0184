import { sql } from 'drizzle-orm';
import { selectBackend } from '../../model/backend.ts';
import type { JsonValue } from '../../core/sdk/json.ts';
import type { History } from '../../model/data/history.ts';
import { chooseHoldout, easeCandidate, evaluateHoldout, heuristicsCandidate, itemKnnCandidate, popularityCandidate, rankerCandidate, type HoldoutCandidate } from '../../model/evaluation/holdout.ts';
import { gateDecision } from '../../model/gate.ts';
import { saveRanker } from '../../model/ranker/artifact.ts';
import { asServingPlan, decideServingPlan, DEFAULT_SEGMENT_RULES, planNdcg, SEGMENTS, segmentOf, SERVING_CANDIDATES, uniformPlanSegments, type ServingPlan } from '../../model/serving-plan.ts';
import { resolveTrainOptions, trainRanker } from '../../model/ranker/trainer.ts';
import { finishModel, promoteModel, registerModel } from '../../model/registry.ts';
import { loadProduction, withPlan } from './production.ts';
import type { ExtractResult } from '../extract.ts';
import { DAY_MS } from '../../model/data/time.ts';
import type { TaskConnections } from '../../operators/connections.ts';
import { loadInputs, pathsFor, type StepContext } from '../steps.ts';
import type { RankerStageOptions } from './ranker-options.ts';

/** What the rank shards serve: a version's ranker (its artifact) and its plan (which candidate ranks which members). */
export type ServingModel = {
  version: string;
  artifactPath: string;
  /** Absent for versions from before plans: their ranker serves every member with history. */
  plan?: ServingPlan;
};

export type TrainResult = {
  /** The version this run trained, where it was saved, and whether the gate promoted it. */
  trained: ServingModel & { promoted: boolean; reason: string };
  /** What the rank step uses: the new version if promoted, else the one in production (if it can still serve), else none (heuristic rows). */
  serving: ServingModel | null;
  backend: string;
  metrics: Record<string, Record<string, number>>;
  examplesPerSec: number;
  seconds: number;
};

/** Validation examples the trainer should get, however sparse the last days are: this many, or 10% of the history when that is less. */
const VALIDATION_EXAMPLES = 2000;

/**
 * Where validation starts: `validationDays` before `trainBefore`, or earlier when those days hold
 * fewer than VALIDATION_EXAMPLES interactions (sparse data) — but never more than the last 10%.
 */
function validationStart(history: History, trainBefore: number, validationDays: number): number {
  const times = history.startedAt.filter((t) => t < trainBefore).sort();
  if (times.length === 0) return trainBefore - validationDays * DAY_MS;
  const byCount = times[Math.max(Math.floor(times.length * 0.9), times.length - VALIDATION_EXAMPLES)]!;
  return Math.min(trainBefore - validationDays * DAY_MS, byCount);
}

/**
 * train: trains a new ranker version; evaluates it with popularity, the heuristics, ItemKNN, EASE
 * and the ranker in production on a holdout (the last days, or each member's latest interactions
 * when those days are too sparse); decides per segment of members which candidate serves them
 * (the serving plan); records it all in the registry and promotes the version only if its plan
 * beats production's on the same holdout.
 */
export async function trainStep(resources: TaskConnections, step: StepContext, extract: ExtractResult, options: RankerStageOptions): Promise<TrainResult> {
  const started = performance.now();
  const { db } = resources;
  // A try that died (killed worker) leaves its version `running`: it will never finish.
  await db.execute(sql`update model_version set status = 'failed', stage = 'failed', finished_at = now(), error = 'abandoned: its training try stopped before finishing'
                       where dag_id = ${step.dagId} and run_id = ${step.runId} and status = 'running'`);
  const backend = await selectBackend({ log: step.log });
  const { catalogue, history, asOf } = await loadInputs(extract, step.options);
  const holdout = chooseHoldout(catalogue, history, asOf, { holdoutDays: options.holdoutDays, maxMembers: options.evaluationMembers });
  const split = holdout.split;
  step.log(`holdout: ${holdout.reason}`);
  // The ranker learns from what the holdout leaves: everything before it, or (latest) everyone's history less the held-out interactions.
  const trainBefore = split.kind === 'latest' ? asOf : split.testFrom;
  const validationFrom = validationStart(split.train, trainBefore, options.validationDays);
  const train = resolveTrainOptions(options.train);
  const registered = await registerModel(db, {
    modelName: options.modelName,
    backend: backend.name,
    params: {
      ...train,
      backendDetail: backend.detail,
      holdoutDays: options.holdoutDays,
      validationDays: options.validationDays,
      holdout: split.kind ?? 'time',
      asOf: new Date(asOf).toISOString(),
      runAsOf: extract.asOf,
    },
    dataLocation: extract.workoutsDir,
    rowCounts: { members: history.memberCount, classes: catalogue.size, workouts: history.workoutCount },
    dagId: step.dagId,
    runId: step.runId,
  });
  const version = registered.version;
  step.log(`training ${version} on ${backend.detail}`);
  try {
    const trained = await trainRanker({ catalogue, history: split.train, validationFrom, trainBefore, options: train, log: step.log, signal: step.signal });
    const artifactPath = pathsFor(resources, step).modelDir(version);
    await saveRanker(trained, artifactPath, { version, backend: backend.name, backendDetail: backend.detail });

    const production = await loadProduction(db, options.modelName, catalogue, step.log);
    const candidates: HoldoutCandidate[] = [
      popularityCandidate(catalogue, split),
      heuristicsCandidate(catalogue, split),
      itemKnnCandidate(catalogue, split),
      easeCandidate(catalogue, split),
      rankerCandidate('ranker', trained, catalogue, split),
    ];
    if (production.model) candidates.push(rankerCandidate('production', production.model, catalogue, split));
    const perMember = new Map<string, Float64Array>();
    const metrics = evaluateHoldout(split, catalogue.size, candidates, { perMember });
    production.model?.network.dispose();
    for (const [name, m] of Object.entries(metrics)) step.log(`holdout ${name}: ${Object.entries(m).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ')}`);

    const rules = { ...DEFAULT_SEGMENT_RULES, inactiveDays: step.options.inactiveDays };
    const memberSegments = Array.from(split.members, (m) => {
      const { start, end } = split.train.workoutsOf(m);
      return segmentOf(end - start, split.train.lastActive(m), split.testFrom, rules);
    });
    const plan = decideServingPlan(perMember, memberSegments, { candidates: SERVING_CANDIDATES, rules });
    for (const segment of SEGMENTS) step.log(`serve ${segment}: ${plan.segments[segment]} — ${plan.reasons[segment]}`);
    const productionPlan = production.current ? (asServingPlan(production.current.serving)?.segments ?? uniformPlanSegments('ranker')) : null;
    const productionNdcg = production.model && productionPlan ? planNdcg(productionPlan, perMember, memberSegments, (c) => (c === 'ranker' ? 'production' : c)) : null;
    const decision = gateDecision({
      evaluatedMembers: split.members.length,
      candidate: plan.ndcg,
      production: production.current && productionNdcg !== null ? { version: production.current.version, ndcg: productionNdcg } : null,
      unusableProduction: production.unusable,
    });
    const rankerServes = SEGMENTS.filter((s) => plan.segments[s] === 'ranker');
    const stats = trained.stats;
    await finishModel(db, version, {
      status: 'succeeded',
      // The ranker's own training figures sit with its holdout metrics (the registry keys metrics by candidate).
      metrics: { ...metrics, ranker: { ...metrics.ranker, trainExamplesPerSec: stats.examplesPerSec, validationNll: stats.validationNll, calibratedNll: stats.calibratedNll, temperature: trained.temperature } },
      rowCounts: { members: history.memberCount, classes: catalogue.size, workouts: history.workoutCount, trainExamples: stats.examples, validationExamples: stats.validationExamples, evaluatedMembers: split.members.length },
      serving: toJson({
        ...plan,
        holdout: { kind: split.kind ?? 'time', members: split.members.length, reason: holdout.reason },
        ranker: rankerServes.length > 0 ? `the ranker serves ${rankerServes.join(', ')}` : `the ranker serves no segment: it did not beat ${[...new Set(SEGMENTS.map((s) => plan.segments[s]))].join(', ')} on the holdout`,
        production: production.current ? { version: production.current.version, ndcg: productionNdcg, unusable: production.unusable?.reason ?? null } : null,
        gate: decision,
      }),
      durationMs: Math.round(performance.now() - started),
      artifactPath,
    });
    trained.network.dispose();
    if (decision.promote) await promoteModel(db, version, { by: `pipeline:${step.dagId}/${step.runId}` });
    step.log(`${version} ${decision.promote ? 'promoted to production' : 'kept as a candidate'}: ${decision.reason}`);
    const keep = production.current?.artifactPath && !production.unusable ? { version: production.current.version, artifactPath: production.current.artifactPath, ...withPlan(production.current.serving) } : null;
    const serving = decision.promote ? { version, artifactPath, plan } : keep;
    return {
      trained: { version, artifactPath, plan, promoted: decision.promote, reason: decision.reason },
      serving,
      backend: backend.detail,
      metrics,
      examplesPerSec: stats.examplesPerSec,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    await finishModel(db, version, { status: 'failed', error: (error as Error).message, durationMs: Math.round(performance.now() - started) }).catch(() => undefined);
    throw error;
  }
}

function toJson(value: unknown): Record<string, JsonValue> {
  return JSON.parse(JSON.stringify(value)) as Record<string, JsonValue>;
}
