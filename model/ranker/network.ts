import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradients; the umbrella package's bundle does (once, on the same core).
import '@tensorflow/tfjs';
import { CROSS_TABLES, type CrossFeatures } from './cross-features.ts';
import { MEMBER_SCALARS, POOLS, type MemberContextBatch } from './member-context.ts';
import { poolHistory } from './pool-history.ts';
import { AGE_BUCKETS, ageBucket, TABLES, tableSizes, type ClassFeatures, type RankerVocabulary, type TableName } from './features.ts';

/** Sizes of the ranker's layers. */
export type RankerShape = {
  /** Width of class and member vectors. @defaultValue 32 */
  dim: number;
  /** Width of the member tower's hidden layer. @defaultValue 64 */
  hidden: number;
  /** Workouts of a member's history the member tower reads (most recent first). @defaultValue 32 */
  historyLength: number;
};

export const DEFAULT_SHAPE: RankerShape = { dim: 32, hidden: 64, historyLength: 32 };


/** Tables with a per-row bias (popularity of the class / instructor / discipline × duration). */
const BIAS_TABLES: readonly TableName[] = ['id', 'instructor', 'disciplineDuration'];

/** Feature rows of a set of classes, one int32 tensor per table. */
export type FeatureRows = Record<TableName, tf.Tensor1D>;

/** Feature rows of every class of `features` as int32 tensors. */
export function featureRows(features: ClassFeatures): FeatureRows {
  return Object.fromEntries(TABLES.map((t) => [t, tf.tensor1d(features[t], 'int32')])) as FeatureRows;
}

export function disposeRows(rows: FeatureRows): void {
  for (const t of TABLES) rows[t].dispose();
}

/**
 * A two-tower ranker. Class tower: the sum of embeddings of the class's id, discipline,
 * duration, instructor, language and discipline × duration (plus biases, and a bias per age
 * bucket), so a class that aired today is scored by its features. Member tower: the member's
 * recent history pooled three ways (long and short recency decay, the last class) through
 * separate history embeddings, plus a few scalars, through a two-layer MLP. No per-member
 * parameters: training cost follows the catalogue, not the member count, and a member who
 * signed up after training is scored from their history.
 */
export class RankerNetwork {
  readonly target: Record<TableName, tf.Variable>;
  readonly bias: Partial<Record<TableName, tf.Variable>>;
  readonly ageBias: tf.Variable;
  readonly history: Record<TableName, tf.Variable>;
  readonly w1: tf.Variable;
  readonly b1: tf.Variable;
  readonly w2: tf.Variable;
  readonly b2: tf.Variable;
  /** α of each cross (see CrossFeatures). */
  readonly crossWeights: tf.Variable;

  /** Variables by their name in saved models (tfjs's own names must be unique per process). */
  private readonly byName = new Map<string, tf.Variable>();

  constructor(
    readonly vocabulary: RankerVocabulary,
    readonly shape: RankerShape,
    seed: number,
    weights?: Map<string, tf.Tensor>,
  ) {
    const sizes = tableSizes(vocabulary);
    let s = seed;
    const init = (name: string, dims: number[], std: number, start?: number[]) => {
      const given = weights?.get(name);
      if (weights && !given) throw new Error(`model weights have no "${name}"`);
      if (given && given.shape.join('x') !== dims.join('x')) throw new Error(`model weights "${name}" have shape ${given.shape.join('x')}, expected ${dims.join('x')}`);
      const value = given ?? (start ? tf.tensor(start, dims) : std === 0 ? tf.zeros(dims) : tf.truncatedNormal(dims, 0, std, 'float32', (s += 1)));
      // No tfjs name: two networks (the new model and production) live in one process.
      const variable = tf.variable(value, true);
      if (!given) value.dispose();
      this.byName.set(name, variable);
      return variable;
    };
    const { dim, hidden } = shape;
    this.target = Object.fromEntries(TABLES.map((t) => [t, init(`target.${t}`, [sizes[t], dim], 0.05)])) as Record<TableName, tf.Variable>;
    this.bias = Object.fromEntries(BIAS_TABLES.map((t) => [t, init(`bias.${t}`, [sizes[t]], 0)]));
    this.ageBias = init('bias.age', [AGE_BUCKETS], 0);
    this.history = Object.fromEntries(TABLES.map((t) => [t, init(`history.${t}`, [sizes[t], dim], 0.05)])) as Record<TableName, tf.Variable>;
    const inputs = POOLS * dim + MEMBER_SCALARS;
    this.w1 = init('member.w1', [inputs, hidden], Math.sqrt(2 / inputs));
    this.b1 = init('member.b1', [hidden], 0);
    this.w2 = init('member.w2', [hidden, dim], Math.sqrt(1 / hidden));
    this.b2 = init('member.b2', [dim], 0);
    // Starts where the heuristics' exponents are: discipline 1, duration 1, instructor 0.7.
    this.crossWeights = init('cross.alpha', [CROSS_TABLES.length], 0, [1, 1, 0.7]);
  }

  get variables(): tf.Variable[] {
    return [...Object.values(this.target), ...Object.values(this.bias), this.ageBias, ...Object.values(this.history), this.w1, this.b1, this.w2, this.b2, this.crossWeights].filter((v): v is tf.Variable => v !== undefined);
  }

  /** Class vectors [n, dim] of the given feature rows. */
  classVectors(rows: FeatureRows): tf.Tensor2D {
    return tf.addN(TABLES.map((t) => tf.gather(this.target[t], rows[t]))) as tf.Tensor2D;
  }

  /** Class biases [n] (without the age bias). */
  classBiases(rows: FeatureRows): tf.Tensor1D {
    return tf.addN(BIAS_TABLES.map((t) => tf.gather(this.bias[t]!, rows[t]))) as tf.Tensor1D;
  }

  /** History embeddings [n, dim] of the catalogue's classes. */
  historyVectors(rows: FeatureRows): tf.Tensor2D {
    return tf.addN(TABLES.map((t) => tf.gather(this.history[t], rows[t]))) as tf.Tensor2D;
  }

  /**
   * Member vectors [B, dim] from a batch of member contexts (`n` rows): their histories pooled
   * over `historyTable` [C, dim] (from `historyVectors`), plus scalars, through the MLP.
   */
  memberVectors(historyTable: tf.Tensor2D, context: MemberContextBatch, n: number): tf.Tensor2D {
    const L = context.historyLength;
    const pooled = poolHistory(historyTable, context.historyIdx.subarray(0, n * L), context.poolWeights.subarray(0, n * POOLS * L), n, POOLS);
    const scalars = tf.tensor2d(context.scalars.subarray(0, n * MEMBER_SCALARS), [n, MEMBER_SCALARS]);
    const hiddenLayer = tf.relu(tf.add(matMul(tf.concat<tf.Tensor2D>([pooled, scalars], 1), this.w1 as tf.Tensor2D), this.b1));
    return tf.add<tf.Tensor2D>(matMul(hiddenLayer as tf.Tensor2D, this.w2 as tf.Tensor2D), this.b2);
  }

  /** α per column of a cross row ([width]), each table's weight repeated over its values: member cross rows are scaled by it. */
  crossScale(sizes: Record<TableName, number>): Float32Array {
    const table = CROSS_TABLES.flatMap((t, f) => Array<number>(sizes[t]).fill(f));
    return tf.tidy(() => tf.gather(this.crossWeights, tf.tensor1d(table, 'int32')).dataSync() as Float32Array);
  }

  /**
   * The class side of the logits as of `at`, divided by `temperature`: one matrix [dim + cross
   * width, C] (class vectors transposed — the layout the wasm matmul is fast on — over the cross
   * columns) and the biases [C] (with the age bias at `at`), so a member's logits are
   * `[memberVector, scaled cross row] · matrix + bias`. Also the classes not aired by `at`.
   */
  classSide(rows: FeatureRows, cross: CrossFeatures, airedAt: Float64Array, at: number, temperature: number): { matrix: tf.Tensor2D; bias: tf.Tensor1D; unaired: number[] } {
    const size = airedAt.length;
    const ages = new Int32Array(size);
    const unaired: number[] = [];
    for (let c = 0; c < size; c++) {
      const a = ageBucket(airedAt[c]!, at);
      if (a < 0) unaired.push(c);
      ages[c] = Math.max(0, a);
    }
    const columns = cross.classColumns();
    const [matrix, bias] = tf.tidy(() => [
      tf.div<tf.Tensor2D>(tf.concat([tf.transpose(this.classVectors(rows)), tf.tensor2d(columns, [cross.width, size])], 0), temperature),
      tf.div<tf.Tensor1D>(tf.add(this.classBiases(rows), tf.gather(this.ageBias, tf.tensor1d(ages, 'int32'))), temperature),
    ]);
    return { matrix, bias, unaired };
  }

  /** Every weight by name, for saving. */
  namedWeights(): Map<string, tf.Variable> {
    return new Map(this.byName);
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/**
 * `a · b` whose gradient multiplies by explicitly transposed operands: the wasm backend's
 * matmul with a transposed operand runs ~10× slower than on a transposed copy (ARCHITECTURE.md, measured facts).
 */
export const matMul = tf.customGrad((...args) => {
  const [a, b, save] = args as unknown as [tf.Tensor2D, tf.Tensor2D, (tensors: tf.Tensor[]) => void];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy)];
    },
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;
