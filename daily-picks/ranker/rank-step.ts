import { selectBackend } from '../../model/backend.ts';
import { loadRanker } from '../../model/ranker/artifact.ts';
import { RankerScorer } from '../../model/ranker/scorer.ts';
import { productionModel } from '../../model/registry.ts';
import type { ExtractResult } from '../extract.ts';
import { RankingWriter } from '../ranking-file.ts';
import type { TaskConnections } from '../../operators/connections.ts';
import { loadInputs, pathsFor, type StepContext } from '../steps.ts';
import type { RankerStageOptions } from './ranker-options.ts';
import type { ServingModel, TrainResult } from './train-step.ts';

export type ShardRanking = {
  rankingFile: string;
  modelVersion: string;
  shard: number;
  members: number;
  seconds: number;
};

/**
 * The model to rank with: what `train` chose, or — when training failed — the one in production
 * (the last good model). Null when there is none: the rows come from the heuristics.
 */
export async function servingModel(resources: TaskConnections, train: TrainResult | null, options: RankerStageOptions, log: (message: string) => void): Promise<ServingModel | null> {
  if (train) return train.serving;
  const current = await productionModel(resources.db, options.modelName);
  if (!current?.artifactPath) {
    log('training failed and no model is in production: no model ranking this run');
    return null;
  }
  log(`training failed: ranking with the production model ${current.version}`);
  return { version: current.version, artifactPath: current.artifactPath };
}

/**
 * rank shard `shard` of `shards`: every `shards`-th member with history (by index), each given
 * the top `candidateDepth` classes they have not taken, with calibrated probabilities. Members
 * are scored a batch at a time, so memory is one batch's scores whatever the member count.
 */
export async function rankShardStep(resources: TaskConnections, step: StepContext, inputs: { extract: ExtractResult; model: ServingModel; shard: number; shards: number }): Promise<ShardRanking> {
  const started = performance.now();
  const backend = await selectBackend({ log: step.log });
  const { catalogue, history, asOf } = await loadInputs(inputs.extract, step.options);
  const model = await loadRanker(inputs.model.artifactPath);
  const batchSize = step.options.memberBatchSize;
  const scorer = new RankerScorer(model, catalogue, asOf, batchSize);
  const rankingFile = pathsFor(resources, step).runFile(step.runId, `ranking-model-${inputs.shard}-of-${inputs.shards}.arrow`);
  const writer = await RankingWriter.create(rankingFile, batchSize);
  const members = new Int32Array(batchSize);
  const ends = new Int32Array(batchSize);
  let n = 0;
  const flush = async () => {
    if (n === 0) return;
    step.signal?.throwIfAborted();
    const batch = scorer.score(history, members.subarray(0, n), ends.subarray(0, n), step.options.candidateDepth);
    for (let i = 0; i < n; i++) {
      const row = i * batch.k;
      const length = batch.counts[i]!;
      await writer.add(history.memberIds[members[i]!]!, batch.classIdx.subarray(row, row + length), batch.probability.subarray(row, row + length));
    }
    n = 0;
  };
  for (let m = inputs.shard; m < history.memberCount; m += inputs.shards) {
    const { start, end } = history.workoutsOf(m);
    if (end === start) continue;
    members[n] = m;
    ends[n] = end;
    n += 1;
    if (n === batchSize) await flush();
  }
  await flush();
  await writer.close();
  scorer.dispose();
  model.network.dispose();
  const seconds = (performance.now() - started) / 1000;
  step.log(`shard ${inputs.shard + 1}/${inputs.shards}: ranked ${writer.members} members with ${inputs.model.version} on ${backend.name} in ${seconds.toFixed(1)} s`);
  return { rankingFile, modelVersion: inputs.model.version, shard: inputs.shard, members: writer.members, seconds };
}
