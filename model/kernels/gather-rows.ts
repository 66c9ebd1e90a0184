/**
 * A row-copying `GatherV2` kernel for the `wasm` backend, for the case every embedding lookup
 * is: axis 0, no batch dimensions. tfjs 4.22's wasm kernel computes each element's source
 * through generic strides: gathering 131k rows of 48 floats took ~350 ms here, where copying
 * rows takes a few. Other cases go to the kernel it replaces.
 */
import { GatherV2, getKernel, registerKernel, unregisterKernel, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type WasmBackend = Pick<BackendWasm, 'makeOutput' | 'typedArrayFromHeap'>;

let replaced: KernelFunc | null = null;

const gatherRows: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const x = inputs['x'] as TensorInfo;
  const indices = inputs['indices'] as TensorInfo;
  const axis = attrs?.['axis'] ?? 0;
  const batchDims = attrs?.['batchDims'] ?? 0;
  if (axis !== 0 || batchDims !== 0 || indices.dtype !== 'int32' || (x.dtype !== 'float32' && x.dtype !== 'int32') || x.shape.length === 0) {
    return replaced!(args);
  }
  const wasm = backend as WasmBackend;
  const rows = x.shape[0]!;
  const inner = x.shape.slice(1).reduce((a, b) => a * b, 1);
  // Allocate before taking heap views: malloc may grow the wasm memory and detach them.
  const output = wasm.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
  const out = wasm.typedArrayFromHeap(output) as Float32Array | Int32Array;
  const source = wasm.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = wasm.typedArrayFromHeap(indices) as Int32Array;
  for (let r = 0; r < ids.length; r++) {
    const row = ids[r]!;
    if (row < 0 || row >= rows) throw new Error(`GatherV2: index ${row} is not in [0, ${rows - 1}]`);
    const from = row * inner;
    const to = r * inner;
    if (inner <= 16) for (let k = 0; k < inner; k++) out[to + k] = source[from + k]!;
    else out.set(source.subarray(from, from + inner), to);
  }
  return output;
};

/** Replaces the wasm backend's `GatherV2` with the row-copying one (idempotent). */
export function registerRowGather(): void {
  const current = getKernel(GatherV2, 'wasm');
  if (current === undefined || current.kernelFunc === gatherRows) return;
  replaced = current.kernelFunc;
  unregisterKernel(GatherV2, 'wasm');
  const config: KernelConfig = { kernelName: GatherV2, backendName: 'wasm', kernelFunc: gatherRows, setupFunc: current.setupFunc, disposeFunc: current.disposeFunc };
  registerKernel(config);
}
