import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

type BackendModule = typeof import('../../model/backend.ts');

const ENV = 'FLYWHEEL_TF_BACKEND';
const savedEnv = process.env[ENV];
let savedBackend: string | undefined;
let backend: BackendModule;
let lines: string[];
const log = (message: string) => void lines.push(message);

beforeAll(() => {
  savedBackend = tf.getBackend();
});

beforeEach(async () => {
  delete process.env[ENV];
  lines = [];
  // A fresh module per test: selectBackend caches its choice at module scope.
  vi.resetModules();
  backend = await import('../../model/backend.ts');
});

afterEach(() => {
  vi.doUnmock('@tensorflow/tfjs-node-gpu');
  if (tf.findBackendFactory('tensorflow') !== null) tf.removeBackend('tensorflow');
});

afterAll(async () => {
  if (savedEnv === undefined) delete process.env[ENV];
  else process.env[ENV] = savedEnv;
  if (savedBackend) await tf.setBackend(savedBackend);
});

describe('selectBackend without tfjs-node-gpu installed', () => {
  it('picks wasm, says why tensorflow was skipped, and logs the choice', async () => {
    const selected = await backend.selectBackend({ log });
    expect(selected).toEqual({ name: 'wasm', detail: expect.stringMatching(/^wasm \((no )?SIMD, \d+ threads?\)$/) });
    expect(tf.getBackend()).toBe('wasm');
    expect(lines).toEqual([
      'tfjs backend: skipping tensorflow: @tensorflow/tfjs-node-gpu is not installed',
      `tfjs backend: ${selected.detail}`,
    ]);
    // Measured on these machines (ARCHITECTURE.md): SIMD on, threads off in Node.
    expect(selected.detail).toBe('wasm (SIMD, 1 thread)');
  });

  it('registers the linear UnsortedSegmentSum so the gather gradient works on wasm', async () => {
    await backend.selectBackend({ log });
    expect(tf.getKernel(tf.UnsortedSegmentSum, 'wasm')).toBeDefined();
    const sum = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3]), tf.tensor1d([1, 1, 0], 'int32'), 2);
    expect(Array.from(await sum.data())).toEqual([3, 3]);
    sum.dispose();
  });

  it('caches the selection: a second call returns it without initialising or logging again', async () => {
    const first = await backend.selectBackend({ log });
    lines = [];
    const second = await backend.selectBackend({ log });
    expect(second).toBe(first);
    expect(lines).toEqual([]);
  });

  it('selects again when something else switched the backend since', async () => {
    const first = await backend.selectBackend({ log });
    await tf.setBackend('cpu');
    const second = await backend.selectBackend({ log });
    expect(second).toEqual(first);
    expect(tf.getBackend()).toBe('wasm');
  });

  it("prefer 'cpu' gives cpu, and a different prefer selects again", async () => {
    await backend.selectBackend({ log });
    lines = [];
    const selected = await backend.selectBackend({ prefer: 'cpu', log });
    expect(selected).toEqual({ name: 'cpu', detail: 'cpu (JavaScript)' });
    expect(tf.getBackend()).toBe('cpu');
    expect(lines).toEqual(['tfjs backend: cpu (JavaScript)']);
    expect(tf.getKernel(tf.UnsortedSegmentSum, 'cpu')).toBeDefined();
  });

  it("prefer 'tensorflow' that cannot be honoured falls back and says who asked", async () => {
    const selected = await backend.selectBackend({ prefer: 'tensorflow', log });
    expect(selected.name).toBe('wasm');
    expect(lines[0]).toBe('tfjs backend: skipping tensorflow (asked for by prefer): @tensorflow/tfjs-node-gpu is not installed');
  });

  it('reads FLYWHEEL_TF_BACKEND when prefer is not given', async () => {
    process.env[ENV] = 'cpu';
    expect((await backend.selectBackend({ log })).name).toBe('cpu');
    process.env[ENV] = 'tensorflow';
    expect((await backend.selectBackend({ log })).name).toBe('wasm');
    expect(lines).toContain('tfjs backend: skipping tensorflow (asked for by FLYWHEEL_TF_BACKEND): @tensorflow/tfjs-node-gpu is not installed');
  });

  it('prefer wins over FLYWHEEL_TF_BACKEND', async () => {
    process.env[ENV] = 'cpu';
    expect((await backend.selectBackend({ prefer: 'wasm', log })).name).toBe('wasm');
  });

  it('an unknown FLYWHEEL_TF_BACKEND is an error naming the variable and the allowed values', async () => {
    process.env[ENV] = 'bogus';
    await expect(backend.selectBackend({ log })).rejects.toThrow('FLYWHEEL_TF_BACKEND must be one of tensorflow, wasm, cpu (got "bogus")');
    expect(lines).toEqual([]);
  });

  it('an empty FLYWHEEL_TF_BACKEND counts as unset', async () => {
    process.env[ENV] = '';
    expect((await backend.selectBackend({ log })).name).toBe('wasm');
  });
});

// tfjs-node-gpu cannot install here, so a mock stands in for it: what selectBackend does with
// the module is only import it (registering the 'tensorflow' backend) and read two flags.
describe('selectBackend when tfjs-node-gpu loads', () => {
  function fakeTfjsNodeGpu(isUsingGpuDevice: boolean) {
    vi.doMock('@tensorflow/tfjs-node-gpu', () => {
      tf.registerBackend('tensorflow', () => Object.assign(new MathBackendCPU(), { isGPUPackage: true, isUsingGpuDevice }), 0);
      return {};
    });
  }

  it('picks tensorflow and reports that a GPU is in use', async () => {
    fakeTfjsNodeGpu(true);
    const selected = await backend.selectBackend({ log });
    expect(selected).toEqual({ name: 'tensorflow', detail: 'tensorflow (GPU: @tensorflow/tfjs-node-gpu)' });
    expect(tf.getBackend()).toBe('tensorflow');
    expect(lines).toEqual(['tfjs backend: tensorflow (GPU: @tensorflow/tfjs-node-gpu)']);
  });

  it('says so when libtensorflow found no CUDA device', async () => {
    fakeTfjsNodeGpu(false);
    expect((await backend.selectBackend({ log })).detail).toBe('tensorflow (CPU: @tensorflow/tfjs-node-gpu found no CUDA device)');
  });

  it('falls back to wasm with the error when the package is installed but fails to load', async () => {
    vi.doMock('@tensorflow/tfjs-node-gpu', () => {
      throw new Error('libcudart.so.11.0: cannot open shared object file');
    });
    const selected = await backend.selectBackend({ log });
    expect(selected.name).toBe('wasm');
    expect(lines[0]).toMatch(/^tfjs backend: skipping tensorflow: @tensorflow\/tfjs-node-gpu failed to initialise: .*libcudart\.so\.11\.0: cannot open shared object file/);
  });
});
