import { History } from '../../model/data/history.ts';

/**
 * A history from per-member lists of `[class, time]` in time order (members `m0`, `m1`, …);
 * `toMs` turns the second value into epoch ms (identity by default).
 */
export function historyOf(members: [number, number][][], toMs: (t: number) => number = (t) => t): History {
  const offsets = new Int32Array(members.length + 1);
  members.forEach((w, m) => (offsets[m + 1] = offsets[m]! + w.length));
  const all = members.flat();
  return History.fromArrays(
    members.map((_, m) => `m${m}`),
    offsets,
    Int32Array.from(all, ([c]) => c),
    Float64Array.from(all, ([, t]) => toMs(t)),
  );
}
