/**
 * A linear-time `UnsortedSegmentSum` kernel for the `cpu` and `wasm` TensorFlow.js backends.
 *
 * The gradient of `tf.gather` (every embedding lookup) is an `UnsortedSegmentSum` of the
 * upstream gradient into the table's rows. tfjs 4.22's `cpu` kernel builds one mask per
 * segment, so a step costs O(tableRows × batchRows): 20 Adam steps on a 20k × 64 table did
 * not finish in 10 minutes. `wasm` ships no kernel at all, so the gradient throws there. This
 * kernel makes one pass over the rows: O(rows × inner + numSegments × inner).
 *
 * tfjs-node (`tensorflow`) has a native kernel and is left alone.
 */
import '@tensorflow/tfjs-backend-cpu';
import {
  getKernel,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  registerKernel,
  type TensorInfo,
  unregisterKernel,
  UnsortedSegmentSum,
} from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** The backends this module gives a linear kernel; `tensorflow` has a native one. */
export const LINEAR_SEGMENT_SUM_BACKENDS = ['cpu', 'wasm'] as const;

type CpuBackend = Pick<MathBackendCPU, 'data' | 'makeTensorInfo'>;
type WasmBackend = Pick<BackendWasm, 'makeOutput' | 'typedArrayFromHeap'>;
type Numeric = Float32Array | Int32Array;

interface SegmentSumPlan {
  x: TensorInfo;
  segmentIds: TensorInfo;
  numSegments: number;
  outShape: number[];
  outDtype: 'float32' | 'int32';
  /** Elements per row: the product of x's dimensions past segmentIds' rank. */
  inner: number;
}

function plan(inputs: NamedTensorInfoMap, attrs: NamedAttrMap | undefined): SegmentSumPlan {
  const { x, segmentIds } = inputs;
  if (x === undefined || segmentIds === undefined) throw new Error('UnsortedSegmentSum: inputs x and segmentIds are required');
  const numSegments = attrs?.['numSegments'];
  if (typeof numSegments !== 'number' || !Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`UnsortedSegmentSum: numSegments must be a non-negative integer (got ${JSON.stringify(numSegments)})`);
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: x must be float32 or int32 (got ${x.dtype})`);
  if (segmentIds.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: segmentIds must be int32 (got ${segmentIds.dtype})`);
  const idRank = segmentIds.shape.length;
  if (idRank > x.shape.length || segmentIds.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`UnsortedSegmentSum: segmentIds shape [${segmentIds.shape.join(',')}] must be a prefix of x's shape [${x.shape.join(',')}]`);
  }
  const innerShape = x.shape.slice(idRank);
  const inner = innerShape.reduce((a, b) => a * b, 1);
  return { x, segmentIds, numSegments, outShape: [numSegments, ...innerShape], outDtype: x.dtype, inner };
}

/** Adds row r of `x` into row `ids[r]` of `out` (which must start zeroed); ids outside [0, numSegments) are dropped, as in TensorFlow. */
function accumulate(out: Numeric, x: ArrayLike<number>, ids: ArrayLike<number>, numSegments: number, inner: number): void {
  const rows = ids.length;
  if (inner === 1) {
    for (let r = 0; r < rows; r++) {
      const s = ids[r]!;
      if (s >= 0 && s < numSegments) out[s]! += x[r]!;
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const s = ids[r]!;
    if (s < 0 || s >= numSegments) continue;
    const src = r * inner;
    const dst = s * inner;
    for (let k = 0; k < inner; k++) out[dst + k]! += x[src + k]!;
  }
}

function numericValues(backend: CpuBackend, info: TensorInfo): ArrayLike<number> {
  const values = backend.data.get(info.dataId).values;
  if (values === undefined || Array.isArray(values)) throw new Error(`UnsortedSegmentSum: no numeric values for a ${info.dtype} tensor on cpu`);
  return values;
}

const cpuKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as CpuBackend;
  const p = plan(inputs, attrs);
  const size = p.numSegments * p.inner;
  const out = p.outDtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  accumulate(out, numericValues(cpu, p.x), numericValues(cpu, p.segmentIds), p.numSegments, p.inner);
  return cpu.makeTensorInfo(p.outShape, p.outDtype, out);
};

const wasmKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as WasmBackend;
  const p = plan(inputs, attrs);
  // Allocate before taking any heap view: malloc may grow the wasm memory, which detaches
  // every typed array made over the old buffer.
  const output = wasm.makeOutput(p.outShape, p.outDtype);
  const out = wasm.typedArrayFromHeap(output) as Numeric;
  out.fill(0); // malloc hands back whatever the heap held
  accumulate(out, wasm.typedArrayFromHeap(p.x), wasm.typedArrayFromHeap(p.segmentIds), p.numSegments, p.inner);
  return output;
};

const KERNELS: Record<(typeof LINEAR_SEGMENT_SUM_BACKENDS)[number], KernelFunc> = { cpu: cpuKernel, wasm: wasmKernel };

/**
 * Registers the linear `UnsortedSegmentSum` for `cpu` and `wasm`, replacing tfjs's own `cpu`
 * kernel. Idempotent, and safe to call again after something re-registered tfjs's kernel (a
 * second copy of tfjs-backend-cpu loading, as a nested `@tensorflow/tfjs` can): it checks which
 * function is registered rather than remembering that it ran.
 */
export function registerLinearSegmentSum(): void {
  for (const backendName of LINEAR_SEGMENT_SUM_BACKENDS) {
    const kernelFunc = KERNELS[backendName];
    const current = getKernel(UnsortedSegmentSum, backendName);
    if (current?.kernelFunc === kernelFunc) continue;
    // registerKernel over an existing one works but warns on the console each time.
    if (current !== undefined) unregisterKernel(UnsortedSegmentSum, backendName);
    const config: KernelConfig = { kernelName: UnsortedSegmentSum, backendName, kernelFunc };
    registerKernel(config);
  }
}
