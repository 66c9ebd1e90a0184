import * as tf from '@tensorflow/tfjs-core';
import type { Catalogue } from '../../operators/daily-picks/catalogue.ts';
import type { History } from '../../operators/daily-picks/history.ts';
import { ageBucket, classFeatures } from './features.ts';
import { MemberContextBatch } from './member-context.ts';
import { MEMBER_SCALARS, POOLS, type RankerNetwork } from './network.ts';
import { disposeRows, featureRows } from './trainer.ts';

/** A trained network and its calibration. */
export interface RankerModel {
  network: RankerNetwork;
  temperature: number;
}

/** One batch of members' best classes, `k` per member (fewer when the catalogue runs out). */
export interface ScoredBatch {
  /** Row-major [members × k] class indices, best first; -1 pads a short list. */
  classIdx: Int32Array;
  /** The probability that the member's next new class is this one (softmax over the classes on offer, taken ones excluded). */
  probability: Float32Array;
  k: number;
}

/**
 * Scores every class of a catalogue for members as of one time, a batch at a time: member vectors
 * [B, d] times the class matrix stored transposed [d, C] (the layout the wasm matmul is fast on),
 * plus biases, with the member's taken classes and classes not aired yet masked, then a partial
 * top-k on the backend. Only [B, k] comes back; memory is one batch's [B, C] logits.
 */
export class RankerScorer {
  private readonly classMatrix: tf.Tensor2D;
  private readonly classBias: tf.Tensor1D;
  private readonly historyTable: tf.Tensor2D;
  private readonly context: MemberContextBatch;
  readonly size: number;

  constructor(
    private readonly model: RankerModel,
    catalogue: Catalogue,
    readonly asOf: number,
    readonly batchSize: number,
  ) {
    const features = classFeatures(catalogue, model.network.vocabulary);
    this.size = catalogue.size;
    const ages = new Int32Array(catalogue.size);
    const unaired: number[] = [];
    for (let c = 0; c < catalogue.size; c++) {
      const a = ageBucket(features.airedAt[c]!, asOf);
      if (a < 0) unaired.push(c);
      ages[c] = Math.max(0, a);
    }
    const rows = featureRows(features);
    const network = model.network;
    const t = model.temperature;
    [this.classMatrix, this.classBias, this.historyTable] = tf.tidy(() => {
      const matrix = tf.div(tf.transpose(network.classVectors(rows)), t) as tf.Tensor2D;
      let bias = tf.div(tf.add(network.classBiases(rows), tf.gather(network.ageBias, tf.tensor1d(ages, 'int32'))), t) as tf.Tensor1D;
      if (unaired.length > 0) bias = tf.add(bias, tf.scatterND(tf.tensor2d(unaired, [unaired.length, 1], 'int32'), tf.fill([unaired.length], -1e9), [catalogue.size])) as tf.Tensor1D;
      return [matrix, bias, network.historyVectors(rows)] as const;
    });
    disposeRows(rows);
    this.context = new MemberContextBatch(batchSize, network.shape.historyLength);
  }

  /**
   * Scores members `members[i]` as of `asOf`, each seeing their workouts before `ends[i]`
   * (a CSR index; pass `history.offsets[m + 1]` for all of them), and returns the top `k`.
   */
  score(history: History, members: ArrayLike<number>, ends: ArrayLike<number>, k: number): ScoredBatch {
    const n = members.length;
    if (n > this.batchSize) throw new Error(`RankerScorer.score: ${n} members > batch size ${this.batchSize}`);
    const L = this.context.historyLength;
    this.context.clear();
    const taken: number[] = [];
    for (let i = 0; i < n; i++) {
      const m = members[i]!;
      this.context.add(history, m, ends[i]!, this.asOf);
      const seen = new Set<number>();
      for (let j = history.offsets[m]!; j < ends[i]!; j++) {
        const c = history.classIdx[j]!;
        if (!seen.has(c)) {
          seen.add(c);
          taken.push(i, c);
        }
      }
    }
    const depth = Math.min(k, this.size);
    const [values, indices] = tf.tidy(() => {
      const member = this.model.network.memberVectors(
        this.historyTable,
        tf.tensor1d(this.context.historyIdx.subarray(0, n * L), 'int32'),
        tf.tensor3d(this.context.poolWeights.subarray(0, n * POOLS * L), [n, POOLS, L]),
        tf.tensor2d(this.context.scalars.subarray(0, n * MEMBER_SCALARS), [n, MEMBER_SCALARS]),
      );
      let logits = tf.add(tf.matMul(member, this.classMatrix), this.classBias) as tf.Tensor2D;
      if (taken.length > 0) {
        const count = taken.length / 2;
        logits = tf.add(logits, tf.scatterND(tf.tensor2d(taken, [count, 2], 'int32'), tf.fill([count], -1e9), [n, this.size])) as tf.Tensor2D;
      }
      const top = tf.topk(logits, depth, true);
      return [tf.exp(tf.sub(top.values, tf.logSumExp(logits, 1, true))), top.indices] as const;
    });
    const probability = values.dataSync() as Float32Array;
    const classIdx = indices.dataSync() as Int32Array;
    values.dispose();
    indices.dispose();
    // Masked classes only reach the top-k when a member has taken nearly everything: drop them.
    for (let i = 0; i < probability.length; i++) {
      if (probability[i]! < 1e-30) {
        probability[i] = 0;
        classIdx[i] = -1;
      }
    }
    return { classIdx, probability, k: depth };
  }

  dispose(): void {
    this.classMatrix.dispose();
    this.classBias.dispose();
    this.historyTable.dispose();
  }
}
