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
   * Training workouts per epoch at most: the most recent ones, whole UTC days at a time (tastes
   * drift, and it bounds a daily run's training time whatever the history's length). Where days
   * are sparse a day is a handful of workouts, so the cut falls within a day's worth of the cap;
   * a last day larger than the cap on its own is cut to its most recent workouts.
   * @defaultValue 1000000
   */
  maxExamplesPerEpoch: number;
  /**
   * Workouts per step: consecutive in time (see `shuffleWindow`), whatever the calendar, so a
   * step is full however sparse the days. More, smaller steps learned more per epoch than fewer
   * large ones. @defaultValue 512
   */
  batchSize: number;
  /**
   * Batches whose workouts are shuffled together each epoch: the time-ordered workouts are cut
   * into windows of `shuffleWindow × batchSize` (at a random offset each epoch), shuffled within
   * each window, then into batches; the batches' order is shuffled too. A batch then mixes many
   * members (not one member's burst of ratings) while spanning a short time, so the classes on
   * offer for its negatives are close to each workout's own. 1 = strictly consecutive.
   * @defaultValue 8
   */
  shuffleWindow: number;
  /** Classes sampled per step as negatives of the sampled softmax. @defaultValue 256 */
  negatives: number;
  /** Adam's learning rate. @defaultValue 0.004 */
  learningRate: number;
  /** Seed of initial weights, shuffling and sampling. @defaultValue 7 */
  seed: number;
  /** Validation examples (at most) for early stopping and the temperature. @defaultValue 4096 */
  validationExamples: number;
  /**
   * Wall-clock budget of training, in seconds from the start of `trainRanker`: once spent, the
   * epoch in progress ends after its current step, is validated like a whole one, and no further
   * epoch starts (the best epoch's weights are kept, then calibration runs as usual). It keeps a
   * daily run bounded on a slow or shared machine; when it is reached the result depends on the
   * machine's speed (logged, and `stats.timeLimited`). @defaultValue 420
   */
  maxTrainSeconds: number;
};

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  shape: DEFAULT_SHAPE,
  epochs: 3,
  minSteps: 1500,
  maxEpochs: 20,
  patience: 2,
  maxExamplesPerEpoch: 1_000_000,
  batchSize: 512,
  shuffleWindow: 8,
  negatives: 256,
  learningRate: 0.004,
  seed: 7,
  validationExamples: 4096,
  maxTrainSeconds: 420,
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
  /** Whether `maxTrainSeconds` ended training (its last epoch may be partial). */
  timeLimited: boolean;
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

  /** Classes aired at or before `at` (unknown air times count as always aired): a prefix of `order`. */
  private available(at: number): number {
    let lo = 0;
    let hi = this.airedSorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.airedSorted[mid]! <= at) lo = mid + 1;
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

  /** The classes on offer at `at` (aired at or before it: a prefix of `order`) and their total popularity weight. */
  offered(at: number): { limit: number; total: number } {
    const limit = Math.max(1, this.available(at));
    return { limit, total: this.cumulative[limit - 1]! };
  }
}

/** Workout indices (into the history's CSR arrays) with a start time in [from, to), in index order. */
function workoutsBetween(history: History, from: number, to: number): Int32Array {
  let count = 0;
  for (let i = 0; i < history.workoutCount; i++) {
    const t = history.startedAt[i]!;
    if (t >= from && t < to) count += 1;
  }
  const out = new Int32Array(count);
  for (let i = 0, k = 0; i < history.workoutCount; i++) {
    const t = history.startedAt[i]!;
    if (t >= from && t < to) out[k++] = i;
  }
  return out;
}

/** The same, in time order (ties by index). */
function workoutsInTimeOrder(history: History, from: number, to: number): Int32Array {
  const t = history.startedAt;
  return workoutsBetween(history, from, to).sort((a, b) => t[a]! - t[b]! || a - b);
}

/**
 * Where the per-epoch cap starts, in `sorted` (time order): the most recent whole UTC days that
 * fit `cap`, or the most recent `cap` workouts when the last day alone is larger.
 */
function recentStart(sorted: Int32Array, startedAt: Float64Array, cap: number): number {
  if (sorted.length <= cap) return 0;
  const dayOf = (k: number) => Math.floor(startedAt[sorted[k]!]! / DAY_MS);
  let first = sorted.length - Math.max(1, cap);
  if (first > 0 && first < sorted.length && dayOf(first - 1) === dayOf(first)) {
    // The cut falls inside a day: start at the next day, if there is one.
    const day = dayOf(first);
    let next = first;
    while (next < sorted.length && dayOf(next) === day) next += 1;
    if (next < sorted.length) first = next;
  }
  return first;
}

function distinctDays(sorted: Int32Array, startedAt: Float64Array): number {
  let days = 0;
  let last = Number.NaN;
  for (const i of sorted) {
    const day = Math.floor(startedAt[i]! / DAY_MS);
    if (day !== last) days += 1;
    last = day;
  }
  return days;
}

function memberOfWorkout(history: History): Int32Array {
  const owner = new Int32Array(history.workoutCount);
  for (let m = 0; m < history.memberCount; m++) owner.fill(m, history.offsets[m], history.offsets[m + 1]);
  return owner;
}

function shuffle(rng: Rng, a: Int32Array | number[], from = 0, to = a.length): void {
  for (let i = to - 1; i > from; i--) {
    const j = from + rng.int(i - from + 1);
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
 *
 * Batches are `batchSize` workouts close in time (time order, shuffled within small windows; see
 * `shuffleWindow`), not calendar days: where days are sparse (a few ratings a day over years) a
 * day-per-batch step held a handful of workouts at a full step's cost. A batch's negatives come
 * from the classes on offer at its latest workout; a negative that aired after a workout is
 * masked for it and its age is taken at the workout's time (see `step`), so a batch spanning
 * days or months contrasts each workout only with classes it could have taken.
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
    const { startedAt } = history;

    const before = workoutsInTimeOrder(history, Number.NEGATIVE_INFINITY, input.validationFrom);
    const train = before.subarray(recentStart(before, startedAt, options.maxExamplesPerEpoch));
    if (train.length < before.length) {
      log(`training on the last ${distinctDays(train, startedAt)} of ${distinctDays(before, startedAt)} days (${train.length} of ${before.length} workouts; at most ${options.maxExamplesPerEpoch} per epoch)`);
    }
    const validationAll = Array.from(workoutsBetween(history, input.validationFrom, input.trainBefore));
    shuffle(rng, validationAll);
    const validation = validationAll.slice(0, options.validationExamples).sort((a, b) => startedAt[a]! - startedAt[b]!);
    const examples = train.length;
    if (examples === 0) throw new Error('no workouts before the validation period to train on');
    const counts = new Float64Array(catalogue.size);
    for (const i of train) counts[history.classIdx[i]!]! += 1;
    const sampler = new NegativeSampler(features, counts);
    const spanDays = (startedAt[train[examples - 1]!]! - startedAt[train[0]!]!) / DAY_MS;
    log(`training on ${examples} workouts (on ${distinctDays(train, startedAt)} days in ${spanDays.toFixed(1)}; ${validation.length} validation), ${catalogue.size} classes, dim ${options.shape.dim}, ${options.negatives} negatives, batch ${options.batchSize}, shuffle window ${options.shuffleWindow} batches`);

    const B = options.batchSize;
    const R = options.negatives;
    const L = options.shape.historyLength;
    const context = new MemberContextBatch(B, L);
    const candidates = new Int32Array(B + R);
    const logExpected = new Float32Array(B + R);
    const ages = new Int32Array(B);
    const negativeAges = new Int32Array(B * R);
    const hits = new Float32Array(B * R);
    const hitList: number[] = [];
    const cross = new CrossFeatures(features, tableSizes(vocabulary));
    const F = CROSS_TABLES.length;
    const memberRow = new Float32Array(cross.width);
    const crosses = new Float32Array(B * (R + 1) * F);
    const negativeColumns = new Int32Array(R * F);
    // The classes in a batch's histories, and each one's row in the batch's own history table.
    const historyClasses = new Int32Array(Math.min(catalogue.size, B * L));
    const localRow = new Int32Array(catalogue.size);
    const seenInBatch = new Int32Array(catalogue.size).fill(-1);
    let batchNumber = 0;

    /**
     * One step on `batch` (workouts close in time). The negatives are drawn from the classes on
     * offer at the batch's latest workout, so every positive is among them and its logQ is that
     * of the distribution sampled. For each workout, a negative that aired after it (it could not
     * have been taken then) is masked like an accidental hit, and a negative's age bucket is taken
     * at the workout's own time, as the positive's is: however long the batch spans (sparse days),
     * no workout is contrasted with a class that was not on offer to it, nor at another age.
     */
    const step = (batch: Int32Array): number => {
      context.clear();
      const n = batch.length;
      let earliest = Number.POSITIVE_INFINITY;
      let latest = Number.NEGATIVE_INFINITY;
      for (const i of batch) {
        const t = startedAt[i]!;
        if (t < earliest) earliest = t;
        if (t > latest) latest = t;
      }
      const offer = sampler.offered(latest);
      for (let b = 0; b < n; b++) {
        const i = batch[b]!;
        const t = startedAt[i]!;
        context.add(history, owner[i]!, i, t);
        const c = history.classIdx[i]!;
        candidates[b] = c;
        logExpected[b] = Math.log(R * sampler.probability(c, offer.limit, offer.total));
        ages[b] = Math.max(0, ageBucket(features.airedAt[c]!, t));
      }
      sampler.sample(rng, offer, R, candidates, logExpected, n);
      for (const h of hitList) hits[h] = 0;
      hitList.length = 0;
      const positions = new Map<number, number[]>();
      // A negative's age bucket at each workout's time. Usually (a batch spans hours, or air
      // times are unknown) it is one bucket for the whole batch: one age per negative, [R].
      // Otherwise ages are per workout and negative, [n, R], and a negative that aired after a
      // workout is masked for it.
      let perWorkout = false;
      for (let j = 0; j < R; j++) {
        const c = candidates[n + j]!;
        let list = positions.get(c);
        if (!list) positions.set(c, (list = []));
        list.push(j);
        const aired = features.airedAt[c]!;
        negativeAges[j] = ageBucket(aired, latest);
        // (Not aired even at the latest workout: only when nothing had aired by then, see `offered`.)
        perWorkout ||= negativeAges[j]! < 0 || ageBucket(aired, earliest) !== negativeAges[j];
      }
      if (perWorkout) {
        for (let b = 0; b < n; b++) {
          const t = startedAt[batch[b]!]!;
          for (let j = 0; j < R; j++) {
            const age = ageBucket(features.airedAt[candidates[n + j]!]!, t);
            negativeAges[b * R + j] = Math.max(0, age);
            if (age < 0) hitList.push(b * R + j);
          }
        }
      }
      for (let b = 0; b < n; b++) {
        const same = positions.get(candidates[b]!);
        if (same) for (const j of same) hitList.push(b * R + j);
      }
      for (const h of hitList) hits[h] = -1e9;
      // Crosses: the member row's column of each candidate's value per table (as classCrosses reads them).
      for (let j = 0; j < R; j++) {
        const c = candidates[n + j]!;
        for (let f = 0; f < F; f++) negativeColumns[j * F + f] = cross.offsets[f]! + features[CROSS_TABLES[f]!][c]!;
      }
      for (let b = 0; b < n; b++) {
        cross.memberRow(context, b, memberRow, 0);
        const at = b * (R + 1) * F;
        cross.classCrosses(memberRow, 0, candidates[b]!, crosses, at);
        for (let k = 0; k < R * F; k++) crosses[at + F + k] = memberRow[negativeColumns[k]!]!;
      }
      // History embeddings of the classes the batch's histories hold, not of the whole catalogue
      // (a catalogue of 10k films costs several times a step's work otherwise): the context's
      // indices become rows of that small table, now that the crosses have read them.
      const historyIdx = context.historyIdx;
      let distinct = 0;
      batchNumber += 1;
      for (let k = 0; k < n * L; k++) {
        const c = historyIdx[k]!;
        if (seenInBatch[c] !== batchNumber) {
          seenInBatch[c] = batchNumber;
          localRow[c] = distinct;
          historyClasses[distinct++] = c;
        }
        historyIdx[k] = localRow[c]!;
      }

      const lossValue = tf.tidy(() => {
        // The candidates' own feature rows: class vectors for B + R classes, not the whole catalogue.
        const candidateRows = Object.fromEntries(TABLES.map((t) => [t, tf.tensor1d(Int32Array.from(candidates.subarray(0, n + R), (c) => features[t][c]!), 'int32')])) as FeatureRows;
        const historyRows = Object.fromEntries(TABLES.map((t) => [t, tf.tensor1d(Int32Array.from(historyClasses.subarray(0, distinct), (c) => features[t][c]!), 'int32')])) as FeatureRows;
        const ageIdx = tf.tensor1d(ages.subarray(0, n), 'int32');
        const negativeAgeIdx = tf.tensor1d(negativeAges.subarray(0, perWorkout ? n * R : R), 'int32');
        const correction = tf.tensor1d(logExpected.subarray(0, n + R));
        const hitMask = tf.tensor2d(hits.subarray(0, n * R), [n, R]);
        const crossInputs = tf.tensor2d(crosses.subarray(0, n * (R + 1) * F), [n * (R + 1), F]);
        const loss = optimizer.minimize(() => {
          const member = network.memberVectors(network.historyVectors(historyRows), context, n);
          const vectors = network.classVectors(candidateRows);
          const biases = tf.sub(network.classBiases(candidateRows), correction);
          const [posVectors, negVectors] = tf.split(vectors, [n, R], 0) as [tf.Tensor2D, tf.Tensor2D];
          const [posBias, negBias] = tf.split(biases, [n, R], 0) as [tf.Tensor1D, tf.Tensor1D];
          const positive = tf.add(tf.add(tf.sum(tf.mul(member, posVectors), 1), posBias), tf.gather(network.ageBias, ageIdx));
          const negativeAgeBias = tf.reshape(tf.gather(network.ageBias, negativeAgeIdx), [perWorkout ? n : 1, R]);
          const negative = tf.add(tf.add(tf.add(matMul(member, tf.transpose(negVectors)), negBias), negativeAgeBias), hitMask);
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
    let trainedExamples = 0;
    let timeLimited = false;
    const deadline = started + options.maxTrainSeconds * 1000;
    const stepsPerEpoch = Math.ceil(examples / B);
    const epochs = Math.max(options.epochs, Math.min(options.maxEpochs, Math.ceil(options.minSteps / stepsPerEpoch)));
    // Window and offset are whole batches, so every batch lies inside one window.
    const windowBatches = Math.max(1, Math.floor(options.shuffleWindow));
    const span = windowBatches * B;
    const ordered = new Int32Array(examples);
    const batchOrder = Array.from({ length: stepsPerEpoch }, (_, k) => k);
    let epochsRun = 0;
    for (let epoch = 1; epoch <= epochs && !timeLimited; epoch++) {
      if (epoch - best.epoch > options.patience && best.epoch > 0) {
        log(`stopping early: no better validation NLL since epoch ${best.epoch}`);
        break;
      }
      epochsRun = epoch;
      const epochStarted = performance.now();
      ordered.set(train);
      if (windowBatches > 1) {
        const offset = Math.min(examples, rng.int(windowBatches) * B);
        shuffle(rng, ordered, 0, offset);
        for (let s = offset; s < examples; s += span) shuffle(rng, ordered, s, Math.min(examples, s + span));
      }
      shuffle(rng, batchOrder);
      let lossSum = 0;
      let lossCount = 0;
      for (const k of batchOrder) {
        input.signal?.throwIfAborted();
        const batch = ordered.subarray(k * B, Math.min(examples, (k + 1) * B));
        const value = step(batch);
        if (!Number.isFinite(value)) throw new Error(`training diverged at epoch ${epoch}, step ${steps}: loss ${value}`);
        lossSum += value * batch.length;
        lossCount += batch.length;
        steps += 1;
        if (performance.now() > deadline) {
          timeLimited = true;
          log(`training time budget (${options.maxTrainSeconds} s) spent after ${lossCount} of ${examples} workouts of epoch ${epoch}: this epoch is the last`);
          break;
        }
        // Let the event loop breathe (heartbeats, abort signals) between steps.
        if ((steps & 7) === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      trainSeconds += (performance.now() - epochStarted) / 1000;
      trainedExamples += lossCount;
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
        examplesPerSec: trainedExamples / trainSeconds,
        trainLoss,
        validationNll: best.nll,
        calibratedNll,
        bestEpoch: best.epoch,
        timeLimited,
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

