import * as tf from '@tensorflow/tfjs-core';

/**
 * Weighted pooling of history embeddings: `out[b, p, :] = Σ_l weights[b, p, l] · table[idx[b, l], :]`
 * ([B, P·d]), with its gradient into `table` as one scatter-add.
 *
 * On the JavaScript-side backends (`cpu`, `wasm`) this runs as plain loops over the few rows each
 * member has, where gather → batched matmul → segment sum spent ~15 ms of a 512-example step on
 * per-op overhead and tiny batched matmuls. Backends with a device (`tensorflow`) keep the tensor
 * formulation: reading the table back to the CPU every step would cost more than it saves.
 */
export function poolHistory(table: tf.Tensor2D, idx: Int32Array, weights: Float32Array, batch: number, pools: number): tf.Tensor2D {
  const length = idx.length / batch;
  const dim = table.shape[1];
  if (tf.getBackend() === 'tensorflow') {
    const items = tf.reshape<tf.Rank.R3>(tf.gather(table, tf.tensor1d(idx, 'int32')), [batch, length, dim]);
    return tf.reshape(tf.matMul(tf.tensor3d(weights, [batch, pools, length]), items), [batch, pools * dim]);
  }
  const pool = tf.customGrad((...args) => {
    const [source, save] = args as unknown as [tf.Tensor2D, (tensors: tf.Tensor[]) => void];
    save([]);
    const values = source.dataSync() as Float32Array;
    const out = new Float32Array(batch * pools * dim);
    forEachWeight(idx, weights, batch, pools, length, (row, c, w) => {
      const from = c * dim;
      for (let k = 0; k < dim; k++) out[row + k]! += w * values[from + k]!;
    }, dim);
    return {
      value: tf.tensor2d(out, [batch, pools * dim]),
      gradFunc: (dy: tf.Tensor) => {
        const upstream = dy.dataSync() as Float32Array;
        const grad = new Float32Array(source.shape[0] * dim);
        forEachWeight(idx, weights, batch, pools, length, (row, c, w) => {
          const to = c * dim;
          for (let k = 0; k < dim; k++) grad[to + k]! += w * upstream[row + k]!;
        }, dim);
        return tf.tensor2d(grad, source.shape);
      },
    };
  }) as (source: tf.Tensor2D) => tf.Tensor2D;
  return pool(table);
}

/** Calls `visit(outputRow, class, weight)` for every non-zero weight; `outputRow` = offset of [b, p, :] in the output. */
function forEachWeight(idx: Int32Array, weights: Float32Array, batch: number, pools: number, length: number, visit: (row: number, c: number, w: number) => void, dim: number): void {
  for (let b = 0; b < batch; b++) {
    for (let p = 0; p < pools; p++) {
      const wRow = (b * pools + p) * length;
      const outRow = (b * pools + p) * dim;
      for (let l = 0; l < length; l++) {
        const w = weights[wRow + l]!;
        if (w !== 0) visit(outRow, idx[b * length + l]!, w);
      }
    }
  }
}
