import * as tf from '@tensorflow/tfjs-core';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RankerVocabulary } from './features.ts';
import { RankerNetwork, type RankerShape } from './network.ts';
import type { RankerModel } from './scorer.ts';

const FORMAT = 'flywheel-ranker/1';

type WeightEntry = { name: string; shape: number[]; offset: number; length: number };

/** `model.json`: everything but the weights, which are float32s in `weights.bin`. */
type Manifest = {
  format: typeof FORMAT;
  vocabulary: RankerVocabulary;
  shape: RankerShape;
  temperature: number;
  weights: WeightEntry[];
  /** What the trainer recorded: version, backend it trained on, … */
  meta: Record<string, string>;
};

/**
 * Saves a model into `dir` (created): `model.json` and `weights.bin`, each written to a
 * temporary name and renamed, so a reader never sees half a model.
 */
export async function saveRanker(model: RankerModel, dir: string, meta: Record<string, string> = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries: WeightEntry[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const [name, tensor] of model.network.namedWeights()) {
    const values = tensor.dataSync() as Float32Array;
    entries.push({ name, shape: tensor.shape, offset, length: values.length });
    chunks.push(values);
    offset += values.length;
  }
  const weights = new Float32Array(offset);
  let at = 0;
  for (const chunk of chunks) {
    weights.set(chunk, at);
    at += chunk.length;
  }
  const manifest: Manifest = { format: FORMAT, vocabulary: model.network.vocabulary, shape: model.network.shape, temperature: model.temperature, weights: entries, meta };
  const weightsFile = path.join(dir, 'weights.bin');
  const manifestFile = path.join(dir, 'model.json');
  await writeFile(`${weightsFile}.tmp`, new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength));
  await rename(`${weightsFile}.tmp`, weightsFile);
  await writeFile(`${manifestFile}.tmp`, JSON.stringify(manifest));
  await rename(`${manifestFile}.tmp`, manifestFile);
}

/** Loads a model saved by `saveRanker`; a missing or foreign artifact is a clear error. */
export async function loadRanker(dir: string): Promise<RankerModel> {
  const manifestFile = path.join(dir, 'model.json');
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as Manifest;
  } catch (error) {
    throw new Error(`cannot read the ranker model at ${manifestFile}: ${(error as Error).message}`, { cause: error });
  }
  const format: unknown = manifest.format; // what the file says, whatever the type claims
  if (format !== FORMAT) throw new Error(`${manifestFile} is not a ${FORMAT} model (format ${String(format)})`);
  const bytes = await readFile(path.join(dir, 'weights.bin'));
  const total = manifest.weights.reduce((n, w) => Math.max(n, w.offset + w.length), 0);
  if (bytes.byteLength !== total * 4) throw new Error(`${path.join(dir, 'weights.bin')} holds ${bytes.byteLength} bytes, the manifest expects ${total * 4}`);
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const weights = new Map(manifest.weights.map((w) => [w.name, tf.tensor(values.subarray(w.offset, w.offset + w.length), w.shape, 'float32')]));
  try {
    return { network: new RankerNetwork(manifest.vocabulary, manifest.shape, 0, weights), temperature: manifest.temperature };
  } finally {
    for (const t of weights.values()) t.dispose();
  }
}

/** How well a saved model's catalogue matches today's: the share of the model's classes still there. */
export interface CatalogueMatch {
  /** Share of the classes the model was trained on that today's catalogue still holds. */
  known: number;
  /** The model cannot rank this catalogue well: after a `--replace` import, or most of its classes gone. */
  stale: boolean;
  reason: string;
}

/**
 * A model whose classes are mostly gone from the catalogue (a re-import with other ids, a
 * different dataset) scores today's classes by features alone, if at all: it must not rank.
 * @param minKnown share of its classes that must still be there. @defaultValue 0.5
 */
export function catalogueMatch(model: RankerModel, catalogueClassIds: readonly string[], minKnown = 0.5): CatalogueMatch {
  const trained = model.network.vocabulary.classIds;
  const today = new Set(catalogueClassIds);
  let kept = 0;
  for (const id of trained) if (today.has(id)) kept += 1;
  const known = trained.length === 0 ? 0 : kept / trained.length;
  const share = `${kept} of its ${trained.length} classes are in today's catalogue of ${catalogueClassIds.length}`;
  return known < minKnown ? { known, stale: true, reason: `its catalogue no longer matches the data: only ${share}` } : { known, stale: false, reason: share };
}
