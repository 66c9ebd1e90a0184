import { sql } from 'drizzle-orm';
import { selectBackend } from '../../model/backend.ts';
import { evaluateHoldout, heuristicsCandidate, holdoutSplit, itemKnnCandidate, popularityCandidate, rankerCandidate, type HoldoutCandidate } from '../../model/evaluation/holdout.ts';
import { gateDecision } from '../../model/gate.ts';
import { loadRanker, saveRanker } from '../../model/ranker/artifact.ts';
import type { RankerModel } from '../../model/ranker/scorer.ts';
import { resolveTrainOptions, trainRanker } from '../../model/ranker/trainer.ts';
import { finishModel, productionModel, promoteModel, registerModel } from '../../model/registry.ts';
import type { ExtractResult } from '../extract.ts';
import { DAY_MS } from '../../model/data/time.ts';
import type { TaskConnections } from '../../operators/connections.ts';
import { loadInputs, pathsFor, type StepContext } from '../steps.ts';
import type { RankerStageOptions } from './ranker-options.ts';

/** A model the rank step can load. */
export type ServingModel = { version: string; artifactPath: string };

export type TrainResult = {
  /** The version this run trained, where it was saved, and whether the gate promoted it. */
  trained: ServingModel & { promoted: boolean; reason: string };
  /** What the rank step uses: the new model if promoted, else the one in production, else none (heuristic rows). */
  serving: ServingModel | null;
  backend: string;
  metrics: Record<string, Record<string, number>>;
  examplesPerSec: number;
  seconds: number;
};

/**
 * train: trains a new version on the workouts before the holdout, evaluates it with popularity,
 * the heuristics, ItemKNN and the model in production on the holdout, records everything in the
 * registry and promotes it only if the gate passes.
 */
export async function trainStep(resources: TaskConnections, step: StepContext, extract: ExtractResult, options: RankerStageOptions): Promise<TrainResult> {
  const started = performance.now();
  const { db } = resources;
  // A try that died (killed worker) leaves its version `running`: it will never finish.
  await db.execute(sql`update model_version set status = 'failed', stage = 'failed', finished_at = now(), error = 'abandoned: its training try stopped before finishing'
                       where dag_id = ${step.dagId} and run_id = ${step.runId} and status = 'running'`);
  const backend = await selectBackend({ log: step.log });
  const { catalogue, history, asOf } = await loadInputs(extract, step.options);
  const testFrom = asOf - options.holdoutDays * DAY_MS;
  const validationFrom = testFrom - options.validationDays * DAY_MS;
  const train = resolveTrainOptions(options.train);
  const registered = await registerModel(db, {
    modelName: options.modelName,
    backend: backend.name,
    params: { ...train, backendDetail: backend.detail, holdoutDays: options.holdoutDays, validationDays: options.validationDays, asOf: new Date(asOf).toISOString() },
    dataLocation: extract.workoutsDir,
    rowCounts: { members: history.memberCount, classes: catalogue.size, workouts: history.workoutCount },
    dagId: step.dagId,
    runId: step.runId,
  });
  const version = registered.version;
  step.log(`training ${version} on ${backend.detail}`);
  try {
    const trained = await trainRanker({ catalogue, history, validationFrom, trainBefore: testFrom, options: train, log: step.log, signal: step.signal });
    const artifactPath = pathsFor(resources, step).modelDir(version);
    await saveRanker(trained, artifactPath, { version, backend: backend.name, backendDetail: backend.detail });

    const split = holdoutSplit(catalogue, history, testFrom, asOf, { maxMembers: options.evaluationMembers });
    const current = await productionModel(db, options.modelName);
    const candidates: HoldoutCandidate[] = [popularityCandidate(catalogue, split), heuristicsCandidate(catalogue, split), itemKnnCandidate(catalogue, split), rankerCandidate('ranker', trained, catalogue, split)];
    let incumbent: RankerModel | null = null;
    if (current?.artifactPath) {
      try {
        incumbent = await loadRanker(current.artifactPath);
        candidates.push(rankerCandidate('production', incumbent, catalogue, split));
      } catch (error) {
        step.log(`production model ${current.version} cannot be loaded (${(error as Error).message}): it cannot be compared, so it stays`);
      }
    }
    const metrics = evaluateHoldout(split, catalogue.size, candidates);
    incumbent?.network.dispose();
    for (const [name, m] of Object.entries(metrics)) step.log(`holdout ${name}: ${Object.entries(m).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ')}`);
    // A production model that could not be loaded has no metrics: the gate then keeps it.
    const decision = gateDecision(metrics, current?.version ?? null);
    const stats = trained.stats;
    await finishModel(db, version, {
      status: 'succeeded',
      // The ranker's own training figures sit with its holdout metrics (the registry keys metrics by candidate).
      metrics: { ...metrics, ranker: { ...metrics.ranker, trainExamplesPerSec: stats.examplesPerSec, validationNll: stats.validationNll, calibratedNll: stats.calibratedNll, temperature: trained.temperature } },
      rowCounts: { members: history.memberCount, classes: catalogue.size, workouts: history.workoutCount, trainExamples: stats.examples, validationExamples: stats.validationExamples, evaluatedMembers: split.members.length },
      durationMs: Math.round(performance.now() - started),
      artifactPath,
    });
    trained.network.dispose();
    if (decision.promote) await promoteModel(db, version, { by: `pipeline:${step.dagId}/${step.runId}` });
    step.log(`${version} ${decision.promote ? 'promoted to production' : 'kept as a candidate'}: ${decision.reason}`);
    const serving = decision.promote ? { version, artifactPath } : current?.artifactPath ? { version: current.version, artifactPath: current.artifactPath } : null;
    return {
      trained: { version, artifactPath, promoted: decision.promote, reason: decision.reason },
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
