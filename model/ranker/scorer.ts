import * as tf from '@tensorflow/tfjs-core';
import type { Catalogue } from '../data/catalogue.ts';
import type { History } from '../data/history.ts';
import { CrossFeatures } from './cross-features.ts';
import { classFeatures, tableSizes } from './features.ts';
import { MemberContextBatch } from './member-context.ts';
import { disposeRows, featureRows, type RankerNetwork } from './network.ts';
import { TopScores } from './top-scores.ts';

const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

/** A trained network and its calibration. */
export interface RankerModel {
  network: RankerNetwork;
  temperature: number;
}

/** One batch of members' best classes, `k` per member (fewer when the catalogue runs out). */
export interface ScoredBatch {
  /** Row-major [members × k] class indices, best first; -1 pads a short list. */
  classIdx: Int32Array;
  /** How many of member i's k slots hold a class (fewer than k when they took nearly everything). */
  counts: Int32Array;
  /** The probability that the member's next new class is this one (softmax over the classes on offer, taken ones excluded). */
  probability: Float32Array;
  k: number;
}

/**
 * Scores every class of a catalogue for members as of one time, a batch at a time: member vectors
 * [B, d] (with their cross rows) times the class matrix stored transposed [d + crosses, C] (the
 * layout the wasm matmul is fast on), plus biases, with the member's taken classes and classes not
 * aired yet masked, then a partial top-k over the logits read back. Only [B, k] is kept; memory is
 * one batch's [B, C] logits.
 */
export class RankerScorer {
  private readonly classMatrix: tf.Tensor2D;
  private readonly classBias: tf.Tensor1D;
  private readonly historyTable: tf.Tensor2D;
  private readonly context: MemberContextBatch;
  private readonly cross: CrossFeatures;
  private readonly crossScale: Float32Array;
  private readonly crossRows: Float32Array;
  readonly size: number;

  constructor(
    private readonly model: RankerModel,
    catalogue: Catalogue,
    readonly asOf: number,
    readonly batchSize: number,
  ) {
    const features = classFeatures(catalogue, model.network.vocabulary);
    this.size = catalogue.size;
    const rows = featureRows(features);
    const network = model.network;
    const sizes = tableSizes(network.vocabulary);
    this.cross = new CrossFeatures(features, sizes);
    // α folded into the member rows: the class side of the crosses is plain one-hot columns.
    this.crossScale = network.crossScale(sizes);
    this.crossRows = new Float32Array(batchSize * this.cross.width);
    const { matrix, bias, unaired } = network.classSide(rows, this.cross, features.airedAt, asOf, model.temperature);
    this.classMatrix = matrix;
    this.classBias = unaired.length === 0 ? bias : tf.tidy(() => tf.add<tf.Tensor1D>(bias, tf.scatterND(tf.tensor2d(unaired, [unaired.length, 1], 'int32'), tf.fill([unaired.length], -1e9), [catalogue.size])));
    if (this.classBias !== bias) bias.dispose();
    this.historyTable = tf.tidy(() => network.historyVectors(rows));
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
    this.context.clear();
    const taken: number[] = [];
    for (let i = 0; i < n; i++) {
      const m = members[i]!;
      this.context.add(history, m, ends[i]!, this.asOf);
      const at = i * this.cross.width;
      this.cross.memberRow(this.context, i, this.crossRows, at);
      for (let k = 0; k < this.cross.width; k++) this.crossRows[at + k]! *= this.crossScale[k]!;
      for (const c of new Set(history.classIdx.subarray(history.offsets[m], ends[i]))) taken.push(i, c);
    }
    const C = this.size;
    const [logits, maxLogit, maxProbability] = tf.tidy((): [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D] => {
      const member = this.model.network.memberVectors(this.historyTable, this.context, n);
      const wide = tf.concat([member, tf.tensor2d(this.crossRows.subarray(0, n * this.cross.width), [n, this.cross.width])], 1);
      let scores = tf.add<tf.Tensor2D>(tf.matMul(wide, this.classMatrix), this.classBias);
      if (taken.length > 0) {
        const count = taken.length / 2;
        scores = tf.add<tf.Tensor2D>(scores, tf.scatterND(tf.tensor2d(taken, [count, 2], 'int32'), tf.fill([count], -1e9), [n, C]));
      }
      // log-normaliser = max logit − log(max probability): the backend's softmax is fast on wasm
      // (XNNPACK), its exp / logSumExp are not.
      return [scores, tf.max<tf.Tensor1D>(scores, 1), tf.max<tf.Tensor1D>(tf.softmax(scores), 1)];
    });
    const values = logits.dataSync<'float32'>();
    const maxima = maxLogit.dataSync<'float32'>();
    const peaks = maxProbability.dataSync<'float32'>();
    tf.dispose([logits, maxLogit, maxProbability]);
    // Top-k on the logits read back: the backend's TopK took ~40 ms for 2048 × 2000 where this takes a few.
    const depth = Math.min(k, C);
    const top = new TopScores(depth);
    const classIdx = new Int32Array(n * depth).fill(-1);
    const probability = new Float32Array(n * depth);
    const counts = new Int32Array(n);
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < n; i++) {
      const count = (counts[i] = top.select(values.subarray(i * C, (i + 1) * C), bits.subarray(i * C, (i + 1) * C), classIdx, probability, i * depth));
      const logNormaliser = maxima[i]! - Math.log(peaks[i]!);
      // A float32 cannot hold a probability below ~1e-45: a very confident model's tail is kept at the smallest normal value, not 0.
      for (let j = 0; j < count; j++) probability[i * depth + j] = Math.max(FLOAT32_MIN_NORMAL, Math.exp(probability[i * depth + j]! - logNormaliser));
    }
    return { classIdx, counts, probability, k: depth };
  }

  /** Inner dimension of the scoring matmul: the class vector's width plus the cross columns. */
  get width(): number {
    return this.model.network.shape.dim + this.cross.width;
  }

  dispose(): void {
    this.classMatrix.dispose();
    this.classBias.dispose();
    this.historyTable.dispose();
  }
}
