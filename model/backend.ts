/**
 * Chooses the TensorFlow.js backend at run time: `tensorflow` (tfjs-node-gpu, an
 * optionalDependency that only installs where libtensorflow can be downloaded) → `wasm` →
 * `cpu`. Every fallback is logged with its reason, and the chosen backend's `detail` is meant
 * to be recorded with the model, so a slow run can be traced to the backend it ran on.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerRowGather } from './kernels/gather-rows.ts';
import { registerLinearSegmentSum } from './kernels/unsorted-segment-sum.ts';

export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';

/** Fastest first: the order tried when nothing is preferred. */
export const TF_BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const satisfies readonly TfBackendName[];

/** The environment variable read when `SelectBackendOptions.prefer` is not given. */
export const TF_BACKEND_ENV = 'FLYWHEEL_TF_BACKEND';

const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';

export interface SelectBackendOptions {
  /**
   * Backend to try first. One that cannot be used (not installed, failed to initialise) falls
   * back through the rest of `tensorflow` → `wasm` → `cpu`, with the reason logged; a
   * preference is not an exclusion, so a failed `wasm` may still end up on `tensorflow`.
   * @defaultValue `process.env.FLYWHEEL_TF_BACKEND` when set and non-empty, else none (try `tensorflow` first)
   */
  prefer?: TfBackendName;
  /**
   * Receives the fallback reasons and the final `tfjs backend: …` line.
   * @defaultValue writes each message as a line to stderr (stdout may carry `--json` output)
   */
  log?: (message: string) => void;
}

export interface SelectedBackend {
  name: TfBackendName;
  /** For logs and the model registry, e.g. `wasm (SIMD, 1 thread)`, `cpu (JavaScript)`. */
  detail: string;
}

/** Fields tfjs-node's NodeJSKernelBackend exposes; typed here because its package may be absent. */
interface NodeBackendInfo {
  isUsingGpuDevice?: unknown;
}

type Attempt = { ok: true; detail: string } | { ok: false; reason: string };

/** The message and its `cause` chain: loaders wrap the error that says what is actually wrong. */
function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause === undefined ? error.message : `${error.message} (cause: ${errorMessage(error.cause)})`;
}

/** True when `error` says the package itself is missing (not one of its own imports, nor its native library). */
function isMissingPackage(error: unknown, spec: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && error.message.includes(`'${spec}'`);
}

async function setBackend(name: TfBackendName): Promise<string | undefined> {
  try {
    // setBackend resolves false (and tfjs console.warns the cause) when the factory fails.
    return (await tf.setBackend(name)) ? undefined : `tf.setBackend('${name}') failed (tfjs logged the cause above)`;
  } catch (error) {
    return errorMessage(error);
  }
}

async function tryTensorflow(): Promise<Attempt> {
  try {
    // A variable specifier keeps TypeScript from needing the optional package's types.
    const spec: string = TFJS_NODE_GPU;
    await import(spec);
  } catch (error) {
    return isMissingPackage(error, TFJS_NODE_GPU)
      ? { ok: false, reason: `${TFJS_NODE_GPU} is not installed` }
      : { ok: false, reason: `${TFJS_NODE_GPU} failed to initialise: ${errorMessage(error)}` };
  }
  const failure = await setBackend('tensorflow');
  if (failure !== undefined) return { ok: false, reason: `${TFJS_NODE_GPU} failed to initialise: ${failure}` };
  const info = tf.backend() as unknown as NodeBackendInfo;
  // tfjs-node-gpu names no device; it only says whether libtensorflow found a CUDA one.
  if (info.isUsingGpuDevice === true) return { ok: true, detail: `tensorflow (GPU: ${TFJS_NODE_GPU})` };
  if (info.isUsingGpuDevice === false) return { ok: true, detail: `tensorflow (CPU: ${TFJS_NODE_GPU} found no CUDA device)` };
  return { ok: true, detail: `tensorflow (${TFJS_NODE_GPU})` };
}

async function tryWasm(): Promise<Attempt> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch (error) {
    return isMissingPackage(error, '@tensorflow/tfjs-backend-wasm')
      ? { ok: false, reason: '@tensorflow/tfjs-backend-wasm is not installed' }
      : { ok: false, reason: `@tensorflow/tfjs-backend-wasm failed to load: ${errorMessage(error)}` };
  }
  const failure = await setBackend('wasm');
  if (failure !== undefined) return { ok: false, reason: `wasm failed to initialise: ${failure}` };
  await tf.ready();
  // Async flags: getBool throws until something has awaited them; the backend's init has.
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const threads = wasm.getThreadsCount();
  return { ok: true, detail: `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'})` };
}

async function tryCpu(): Promise<Attempt> {
  // The kernel module imports tfjs-backend-cpu, so 'cpu' is registered by now.
  const failure = await setBackend('cpu');
  return failure === undefined ? { ok: true, detail: 'cpu (JavaScript)' } : { ok: false, reason: `cpu failed to initialise: ${failure}` };
}

const ATTEMPTS: Record<TfBackendName, () => Promise<Attempt>> = { tensorflow: tryTensorflow, wasm: tryWasm, cpu: tryCpu };

function isBackendName(value: string): value is TfBackendName {
  return (TF_BACKEND_NAMES as readonly string[]).includes(value);
}

interface Preference {
  name: TfBackendName;
  /** Where it came from, for the log line when it cannot be honoured. */
  source: 'prefer' | typeof TF_BACKEND_ENV;
}

/** `prefer`, else the environment variable; an unknown value is an error naming where it came from. */
function resolvePreference(prefer: TfBackendName | undefined): Preference | undefined {
  if (prefer !== undefined) {
    // Checked at run time too: JavaScript callers and parsed config reach here untyped.
    if (!isBackendName(prefer)) throw new Error(`selectBackend: prefer must be one of ${TF_BACKEND_NAMES.join(', ')} (got ${JSON.stringify(prefer)})`);
    return { name: prefer, source: 'prefer' };
  }
  const raw = process.env[TF_BACKEND_ENV]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (!isBackendName(raw)) {
    throw new Error(`${TF_BACKEND_ENV} must be one of ${TF_BACKEND_NAMES.join(', ')} (got ${JSON.stringify(process.env[TF_BACKEND_ENV])})`);
  }
  return { name: raw, source: TF_BACKEND_ENV };
}

let cached: { preference: TfBackendName | undefined; selection: Promise<SelectedBackend> } | undefined;

async function select(preference: Preference | undefined, log: (message: string) => void): Promise<SelectedBackend> {
  const order = preference === undefined ? [...TF_BACKEND_NAMES] : [preference.name, ...TF_BACKEND_NAMES.filter((n) => n !== preference.name)];
  const reasons: string[] = [];
  for (const name of order) {
    const attempt = await ATTEMPTS[name]();
    if (!attempt.ok) {
      const note = name === preference?.name ? ` (asked for by ${preference.source})` : '';
      log(`tfjs backend: skipping ${name}${note}: ${attempt.reason}`);
      reasons.push(`${name}: ${attempt.reason}`);
      continue;
    }
    // After setBackend: a nested copy of tfjs-backend-cpu loaded by tfjs-node may have put
    // tfjs's quadratic kernel back. The wasm row gather needs wasm's own kernel registered first.
    registerLinearSegmentSum();
    registerRowGather();
    log(`tfjs backend: ${attempt.detail}`);
    return { name, detail: attempt.detail };
  }
  throw new Error(`no TensorFlow.js backend could be initialised (${reasons.join('; ')})`);
}

/**
 * Selects and initialises the TensorFlow.js backend, registers the linear
 * `UnsortedSegmentSum` kernel and the wasm row gather, and logs the choice (`tfjs backend: wasm (SIMD, 1 thread)`).
 *
 * The result is cached per preference: calling again with the same preference returns the
 * same selection without re-initialising, unless something else switched tfjs's backend in
 * the meantime. A different preference selects again.
 *
 * @throws when `FLYWHEEL_TF_BACKEND` (or `prefer`) is not one of `tensorflow`, `wasm`, `cpu`,
 *   or when no backend at all can be initialised.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<SelectedBackend> {
  const log = options.log ?? ((message: string) => void process.stderr.write(`${message}\n`));
  const preference = resolvePreference(options.prefer);
  if (cached !== undefined && cached.preference === preference?.name) {
    const previous = await cached.selection.catch(() => undefined);
    if (previous !== undefined && tf.getBackend() === previous.name) return previous;
  }
  const selection = select(preference, log);
  cached = { preference: preference?.name, selection };
  try {
    return await selection;
  } catch (error) {
    if (cached?.selection === selection) cached = undefined;
    throw error;
  }
}
