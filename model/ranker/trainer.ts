import * as tf from '@tensorflow/tfjs-core';
import type { Catalogue } from '../data/catalogue.ts';
import type { History } from '../data/history.ts';
import { DAY_MS } from '../data/time.ts';
import { Rng } from '../data/rng.ts';
import { CROSS_TABLES, CrossFeatures } from './cross-features.ts';
import { ageBucket, classFeatures, TABLES, tableSizes, vocabularyOf, type ClassFeatures } from './features.ts';
import { MemberContextBatch } from './member-context.ts';
import { DEFAULT_SHAPE, RankerNetwork, disposeRows, featureRows, matMul, type FeatureRows, type RankerShape } from './network.ts';

/** How the ranker is trained. */
export type TrainOptions = {
  shape: RankerShape;
  /** Passes over the training workouts, at least (see `minSteps`); the best epoch on validation is kept. @defaultValue 3 */
  epochs: number;
  /**
   * At least this many steps: small histories get more epochs (up to `maxEpochs`), since the
   * number of updates, not of passes, is what the model needs. @defaultValue 1500
   */
  minSteps: number;
  /** Cap on the epochs `minSteps` may add. @defaultValue 20 */
  maxEpochs: number;
  /** Stop after this many epochs without a better validation NLL. @defaultValue 2 */
  patience: number;
  /**
   * Training workouts per epoch at most: the most recent days are kept, whole, up to this many
   * (tastes drift, and it bounds a daily run's training time whatever the history's length).
   * @defaultValue 1000000
   */
  maxExamplesPerEpoch: number;
  /** Workouts per step (all from one day, so they share the classes on offer). More, smaller steps learned more per epoch than fewer large ones. @defaultValue 512 */
  batchSize: number;
  /** Classes sampled per step as negatives of the sampled softmax. @defaultValue 256 */
  negatives: number;
  /** Adam's learning rate. @defaultValue 0.004 */
  learningRate: number;
  /** Seed of initial weights, shuffling and sampling. @defaultValue 7 */
  seed: number;
  /** Validation examples (at most) for early stopping and the temperature. @defaultValue 4096 */
  validationExamples: number;
};

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  shape: DEFAULT_SHAPE,
  epochs: 3,
  minSteps: 1500,
  maxEpochs: 20,
  patience: 2,
  maxExamplesPerEpoch: 1_000_000,
  batchSize: 512,
  negatives: 256,
  learningRate: 0.004,
  seed: 7,
  validationExamples: 4096,
};

/** The defaults under `options` (the shape merged field by field). */
export function resolveTrainOptions(options: Partial<TrainOptions> = {}): TrainOptions {
  return { ...DEFAULT_TRAIN_OPTIONS, ...options, shape: { ...DEFAULT_SHAPE, ...options.shape } };
}

export interface TrainInput {
  catalogue: Catalogue;
  history: History;
  /** Workouts before this time train the model… */
  validationFrom: number;
  /** …and workouts in [validationFrom, trainBefore) validate it. */
  trainBefore: number;
  options?: Partial<TrainOptions>;
  log?: (message: string) => void;
  signal?: AbortSignal;
}

export type TrainStats = {
  examples: number;
  validationExamples: number;
  epochs: number;
  steps: number;
  seconds: number;
  examplesPerSec: number;
  /** Sampled-softmax loss of the last epoch. */
  trainLoss: number;
  /** Full-softmax negative log-likelihood per validation workout, best epoch, before / after temperature. */
  validationNll: number;
  calibratedNll: number;
  bestEpoch: number;
};

export interface TrainedRanker {
  network: RankerNetwork;
  /** Logits are divided by it before the softmax (fitted on validation: calibration). */
  temperature: number;
  stats: TrainStats;
}

/**
 * Draws negatives from a mix of uniform (over the classes aired by then) and popularity^0.75,
 * and gives each class's log expected count, which the sampled softmax subtracts from its logit
 * (logQ correction) so the model learns the full softmax's logits.
 */
class NegativeSampler {
  private readonly order: Int32Array;
  private readonly airedSorted: Float64Array;
  private readonly cumulative: Float64Array;
  private readonly weight: Float64Array;

  constructor(features: ClassFeatures, counts: Float64Array) {
    const n = features.size;
    this.order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => (features.airedAt[a]! || 0) - (features.airedAt[b]! || 0));
    this.airedSorted = Float64Array.from(this.order, (c) => features.airedAt[c]! || Number.NEGATIVE_INFINITY);
    this.weight = Float64Array.from(counts, (x) => (x + 1) ** 0.75);
    this.cumulative = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) this.cumulative[i] = total += this.weight[this.order[i]!]!;
  }

  /** Classes aired before `at`: a prefix of `order`. */
  private available(at: number): number {
    let lo = 0;
    let hi = this.airedSorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.airedSorted[mid]! < at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** `count` negatives among the classes `offer` (from `offered(at)`) covers, with their log expected counts, into `out` / `logExpected` from `offset`. */
  sample(rng: Rng, offer: { limit: number; total: number }, count: number, out: Int32Array, logExpected: Float32Array, offset: number): void {
    const { limit, total } = offer;
    for (let j = 0; j < count; j++) {
      let pos: number;
      if (rng.next() < 0.5) pos = rng.int(limit);
      else {
        const u = rng.next() * total;
        let lo = 0;
        let hi = limit - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (this.cumulative[mid]! < u) lo = mid + 1;
          else hi = mid;
        }
        pos = lo;
      }
      out[offset + j] = this.order[pos]!;
    }
    for (let j = 0; j < count; j++) logExpected[offset + j] = Math.log(count * this.probability(out[offset + j]!, limit, total));
  }

  probability(c: number, limit: number, total: number): number {
    return 0.5 / limit + (0.5 * this.weight[c]!) / total;
  }

  /** The classes on offer at `at` (a prefix of `order`) and their total popularity weight. */
  offered(at: number): { limit: number; total: number } {
    const limit = Math.max(1, this.available(at));
    return { limit, total: this.cumulative[limit - 1]! };
  }
}

/** Workout indices (into the history's CSR arrays) in [from, to), grouped by UTC day. */
function workoutsByDay(history: History, from: number, to: number): Int32Array[] {
  const byDay = new Map<number, number[]>();
  for (let i = 0; i < history.workoutCount; i++) {
    const t = history.startedAt[i]!;
    if (t < from || t >= to) continue;
    const day = Math.floor(t / DAY_MS);
    let list = byDay.get(day);
    if (!list) byDay.set(day, (list = []));
    list.push(i);
  }
  return [...byDay.keys()].sort((a, b) => a - b).map((d) => Int32Array.from(byDay.get(d)!));
}

function memberOfWorkout(history: History): Int32Array {
  const owner = new Int32Array(history.workoutCount);
  for (let m = 0; m < history.memberCount; m++) owner.fill(m, history.offsets[m], history.offsets[m + 1]);
  return owner;
}

function shuffle(rng: Rng, a: Int32Array | number[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/**
 * Trains the two-tower ranker on "which class does the member take next": every workout before
 * `validationFrom` is an example whose context is the member's history before it. Sampled softmax
 * (logQ-corrected, accidental hits masked) keeps a step's cost at batch × negatives; validation
 * uses the full softmax over the classes on offer with the member's taken classes excluded, as
 * ranking does. The best epoch's weights are kept, then a temperature is fitted on validation so
 * the scores are calibrated probabilities.
 */
export async function trainRanker(input: TrainInput): Promise<TrainedRanker> {
  const options = resolveTrainOptions(input.options);
  const log = input.log ?? (() => {});
  const { catalogue, history } = input;
  const started = performance.now();
  const vocabulary = vocabularyOf(catalogue);
  const features = classFeatures(catalogue, vocabulary);
  const rng = new Rng(options.seed);
  const network = new RankerNetwork(vocabulary, options.shape, options.seed);
  const optimizer = tf.train.adam(options.learningRate);
  const rows = featureRows(features);
  let best = { nll: Number.POSITIVE_INFINITY, epoch: 0, weights: null as Map<string, tf.Tensor> | null };
  try {
    const owner = memberOfWorkout(history);

    const allDays = workoutsByDay(history, Number.NEGATIVE_INFINITY, input.validationFrom);
    let kept = 0;
    let firstDay = allDays.length;
    while (firstDay > 0 && kept + allDays[firstDay - 1]!.length <= options.maxExamplesPerEpoch) kept += allDays[--firstDay]!.length;
    if (firstDay === allDays.length && allDays.length > 0) firstDay -= 1; // always the last day, however large
    const trainDays = allDays.slice(firstDay);
    if (firstDay > 0) log(`training on the last ${trainDays.length} of ${allDays.length} days (at most ${options.maxExamplesPerEpoch} workouts per epoch)`);
    const validationAll = workoutsByDay(history, input.validationFrom, input.trainBefore).flatMap((d) => [...d]);
    shuffle(rng, validationAll);
    const validation = validationAll.slice(0, options.validationExamples).sort((a, b) => history.startedAt[a]! - history.startedAt[b]!);
    const examples = trainDays.reduce((n, d) => n + d.length, 0);
    if (examples === 0) throw new Error('no workouts before the validation period to train on');
    const counts = new Float64Array(catalogue.size);
    for (const day of trainDays) for (const i of day) counts[history.classIdx[i]!]! += 1;
    const sampler = new NegativeSampler(features, counts);
    log(`training on ${examples} workouts over ${trainDays.length} days (${validation.length} validation), ${catalogue.size} classes, dim ${options.shape.dim}, ${options.negatives} negatives, batch ${options.batchSize}`);

    const B = options.batchSize;
    const R = options.negatives;
    const L = options.shape.historyLength;
    const context = new MemberContextBatch(B, L);
    const candidates = new Int32Array(B + R);
    const logExpected = new Float32Array(B + R);
    const ages = new Int32Array(B + R);
    const hits = new Float32Array(B * R);
    const hitList: number[] = [];
    const cross = new CrossFeatures(features, tableSizes(vocabulary));
    const F = CROSS_TABLES.length;
    const memberRow = new Float32Array(cross.width);
    const crosses = new Float32Array(B * (R + 1) * F);

    const step = (batch: Int32Array, dayStart: number): number => {
      context.clear();
      const n = batch.length;
      const dayEnd = dayStart + DAY_MS;
      const offer = sampler.offered(dayEnd);
      for (let b = 0; b < n; b++) {
        const i = batch[b]!;
        const t = history.startedAt[i]!;
        context.add(history, owner[i]!, i, t);
        const c = history.classIdx[i]!;
        candidates[b] = c;
        logExpected[b] = Math.log(R * sampler.probability(c, offer.limit, offer.total));
        ages[b] = Math.max(0, ageBucket(features.airedAt[c]!, t));
      }
      sampler.sample(rng, offer, R, candidates, logExpected, n);
      const mid = dayStart + DAY_MS / 2;
      const positions = new Map<number, number[]>();
      for (let j = 0; j < R; j++) {
        const c = candidates[n + j]!;
        ages[n + j] = Math.max(0, ageBucket(features.airedAt[c]!, mid));
        let list = positions.get(c);
        if (!list) positions.set(c, (list = []));
        list.push(j);
      }
      for (const h of hitList) hits[h] = 0;
      hitList.length = 0;
      for (let b = 0; b < n; b++) {
        const same = positions.get(candidates[b]!);
        if (same) for (const j of same) hitList.push(b * R + j);
      }
      for (const h of hitList) hits[h] = -1e9;
      for (let b = 0; b < n; b++) {
        cross.memberRow(context, b, memberRow, 0);
        const at = b * (R + 1) * F;
        cross.classCrosses(memberRow, 0, candidates[b]!, crosses, at);
        for (let j = 0; j < R; j++) cross.classCrosses(memberRow, 0, candidates[n + j]!, crosses, at + (1 + j) * F);
      }

      const lossValue = tf.tidy(() => {
        // The candidates' own feature rows: class vectors for B + R classes, not the whole catalogue.
        const candidateRows = Object.fromEntries(TABLES.map((t) => [t, tf.tensor1d(Int32Array.from(candidates.subarray(0, n + R), (c) => features[t][c]!), 'int32')])) as FeatureRows;
        const ageIdx = tf.tensor1d(ages.subarray(0, n + R), 'int32');
        const correction = tf.tensor1d(logExpected.subarray(0, n + R));
        const hitMask = tf.tensor2d(hits.subarray(0, n * R), [n, R]);
        const crossInputs = tf.tensor2d(crosses.subarray(0, n * (R + 1) * F), [n * (R + 1), F]);
        const loss = optimizer.minimize(() => {
          const member = network.memberVectors(network.historyVectors(rows), context, n);
          const vectors = network.classVectors(candidateRows);
          const biases = tf.sub(tf.add(network.classBiases(candidateRows), tf.gather(network.ageBias, ageIdx)), correction);
          const [posVectors, negVectors] = tf.split(vectors, [n, R], 0) as [tf.Tensor2D, tf.Tensor2D];
          const [posBias, negBias] = tf.split(biases, [n, R], 0) as [tf.Tensor1D, tf.Tensor1D];
          const positive = tf.add(tf.sum(tf.mul(member, posVectors), 1), posBias);
          const negative = tf.add(tf.add(matMul(member, tf.transpose(negVectors)), negBias), hitMask);
          // logSoftmax's gradient is its own (softmax − one-hot); logSumExp's goes through max and a broadcast Equal, slow on wasm.
          const towers = tf.concat([tf.expandDims(positive, 1), negative], 1);
          const crossLogits = tf.reshape(matMul(crossInputs, tf.reshape<tf.Rank.R2>(network.crossWeights, [F, 1])), [n, R + 1]);
          const logProbabilities = tf.logSoftmax(tf.add(towers, crossLogits));
          return tf.neg(tf.mean(tf.slice(logProbabilities, [0, 0], [-1, 1]))) as tf.Scalar;
        }, true, network.variables);
        return loss!.dataSync()[0]!;
      });
      return lossValue;
    };

    let steps = 0;
    let trainLoss = Number.NaN;
    let trainSeconds = 0;
    const stepsPerEpoch = trainDays.reduce((n, d) => n + Math.ceil(d.length / B), 0);
    const epochs = Math.max(options.epochs, Math.min(options.maxEpochs, Math.ceil(options.minSteps / stepsPerEpoch)));
    let epochsRun = 0;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      if (epoch - best.epoch > options.patience && best.epoch > 0) {
        log(`stopping early: no better validation NLL since epoch ${best.epoch}`);
        break;
      }
      epochsRun = epoch;
      const epochStarted = performance.now();
      const batches: { day: number; batch: Int32Array }[] = [];
      for (const day of trainDays) {
        const shuffled = Int32Array.from(day);
        shuffle(rng, shuffled);
        const dayStart = Math.floor(history.startedAt[day[0]!]! / DAY_MS) * DAY_MS;
        for (let s = 0; s < shuffled.length; s += B) batches.push({ day: dayStart, batch: shuffled.subarray(s, Math.min(shuffled.length, s + B)) });
      }
      const order = batches.map((_, i) => i);
      shuffle(rng, order);
      let lossSum = 0;
      let lossCount = 0;
      for (const k of order) {
        input.signal?.throwIfAborted();
        const { day, batch } = batches[k]!;
        const value = step(batch, day);
        if (!Number.isFinite(value)) throw new Error(`training diverged at epoch ${epoch}, step ${steps}: loss ${value}`);
        lossSum += value * batch.length;
        lossCount += batch.length;
        steps += 1;
        // Let the event loop breathe (heartbeats, abort signals) between steps.
        if ((steps & 7) === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      trainSeconds += (performance.now() - epochStarted) / 1000;
      trainLoss = lossSum / lossCount;
      const nll = validation.length > 0 ? validationNll(network, rows, features, history, owner, validation, 1) : trainLoss;
      log(`epoch ${epoch}: sampled loss ${trainLoss.toFixed(4)}, validation NLL ${nll.toFixed(4)} (${(lossCount / ((performance.now() - epochStarted) / 1000)).toFixed(0)} examples/s)`);
      if (nll < best.nll) {
        best.weights?.forEach((t) => t.dispose());
        best = { nll, epoch, weights: new Map([...network.namedWeights()].map(([k, v]) => [k, tf.clone(v)])) };
      }
    }
    if (best.weights && best.epoch !== epochsRun) {
      for (const [name, v] of network.namedWeights()) v.assign(best.weights.get(name)!);
    }
    best.weights?.forEach((t) => t.dispose());
    const { temperature, nll: calibratedNll } = validation.length > 0 ? fitTemperature(network, rows, features, history, owner, validation) : { temperature: 1, nll: best.nll };
    log(`best epoch ${best.epoch}: validation NLL ${best.nll.toFixed(4)}, temperature ${temperature.toFixed(3)} → ${calibratedNll.toFixed(4)}`);
    const seconds = (performance.now() - started) / 1000;
    return {
      network,
      temperature,
      stats: {
        examples,
        validationExamples: validation.length,
        epochs: epochsRun,
        steps,
        seconds,
        examplesPerSec: (examples * epochsRun) / trainSeconds,
        trainLoss,
        validationNll: best.nll,
        calibratedNll,
        bestEpoch: best.epoch,
      },
    };
  } catch (error) {
    best.weights?.forEach((t) => t.dispose());
    network.dispose();
    throw error;
  } finally {
    optimizer.dispose();
    disposeRows(rows);
  }
}

/** Full-softmax logits of validation workouts over the classes on offer, taken classes masked; and the positive's logit. */
function validationLogits(network: RankerNetwork, rows: FeatureRows, features: ClassFeatures, history: History, owner: Int32Array, validation: number[]) {
  const n = validation.length;
  const L = network.shape.historyLength;
  const context = new MemberContextBatch(n, L);
  const maskIdx: number[] = [];
  const positives = new Int32Array(n);
  const sizes = tableSizes(network.vocabulary);
  const cross = new CrossFeatures(features, sizes);
  const scale = network.crossScale(sizes);
  const crossRows = new Float32Array(n * cross.width);
  for (let b = 0; b < n; b++) {
    const i = validation[b]!;
    const m = owner[i]!;
    const t = history.startedAt[i]!;
    context.add(history, m, i, t);
    cross.memberRow(context, b, crossRows, b * cross.width);
    positives[b] = history.classIdx[i]!;
    for (let j = history.offsets[m]!; j < i; j++) if (history.classIdx[j] !== positives[b]) maskIdx.push(b, history.classIdx[j]!);
    for (let c = 0; c < features.size; c++) if (features.airedAt[c]! > t) maskIdx.push(b, c);
  }
  for (let k = 0; k < crossRows.length; k++) crossRows[k]! *= scale[k % cross.width]!;
  // Ages at the validation period's middle; classes that had not aired by a workout are masked for it (not by the middle).
  const middle = (history.startedAt[validation[0]!]! + history.startedAt[validation[n - 1]!]!) / 2;
  const side = network.classSide(rows, cross, features.airedAt, middle, 1);
  const result = tf.tidy(() => {
    const member = network.memberVectors(network.historyVectors(rows), context, n);
    const wide = tf.concat([member, tf.tensor2d(crossRows, [n, cross.width])], 1);
    let logits = tf.add<tf.Tensor2D>(tf.matMul(wide, side.matrix), side.bias);
    if (maskIdx.length > 0) {
      const count = maskIdx.length / 2;
      logits = tf.add<tf.Tensor2D>(logits, tf.scatterND(tf.tensor2d(maskIdx, [count, 2], 'int32'), tf.fill([count], -1e9), [n, features.size]));
    }
    const positive = tf.squeeze(tf.gatherND(logits, tf.tensor2d(Array.from(positives, (c, b) => [b, c]), [n, 2], 'int32')));
    return { logits, positive };
  });
  side.matrix.dispose();
  side.bias.dispose();
  return result;
}

function validationNll(network: RankerNetwork, rows: FeatureRows, features: ClassFeatures, history: History, owner: Int32Array, validation: number[], temperature: number): number {
  const { logits, positive } = validationLogits(network, rows, features, history, owner, validation);
  const value = nllAt(logits, positive, temperature);
  logits.dispose();
  positive.dispose();
  return value;
}

function nllAt(logits: tf.Tensor2D, positive: tf.Tensor, temperature: number): number {
  return tf.tidy(() => tf.mean(tf.sub(tf.logSumExp(tf.div(logits, temperature), 1), tf.div(positive, temperature))).dataSync()[0]!);
}

/** Temperature scaling (Guo et al. 2017): the T minimising validation NLL, by golden-section search on log T, and the NLL at it. */
function fitTemperature(network: RankerNetwork, rows: FeatureRows, features: ClassFeatures, history: History, owner: Int32Array, validation: number[]): { temperature: number; nll: number } {
  const { logits, positive } = validationLogits(network, rows, features, history, owner, validation);
  let lo = Math.log(0.25);
  let hi = Math.log(4);
  const g = (Math.sqrt(5) - 1) / 2;
  let a = hi - g * (hi - lo);
  let b = lo + g * (hi - lo);
  let fa = nllAt(logits, positive, Math.exp(a));
  let fb = nllAt(logits, positive, Math.exp(b));
  for (let k = 0; k < 30; k++) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - g * (hi - lo);
      fa = nllAt(logits, positive, Math.exp(a));
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + g * (hi - lo);
      fb = nllAt(logits, positive, Math.exp(b));
    }
  }
  const temperature = Math.exp((lo + hi) / 2);
  const nll = nllAt(logits, positive, temperature);
  logits.dispose();
  positive.dispose();
  return { temperature, nll };
}

