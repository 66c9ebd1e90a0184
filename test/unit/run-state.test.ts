import { describe, expect, it } from 'vitest';
import { dag, task, type Dag, type TaskState } from 'flywheel';
import { finishedRunState, retryDelayMs, settleTasks } from '../../core/state/run-state.ts';
import example from '../../dags/examples/example.ts';

const noop = () => {};

/** a → b → c → d, all with the default rule (all_success). */
function chain(): Dag {
  return dag({ dagId: 'chain', schedule: null }, () => {
    const a = task({ taskId: 'a', run: noop });
    const b = task({ taskId: 'b', upstream: [a], run: noop });
    const c = task({ taskId: 'c', upstream: [b], run: noop });
    task({ taskId: 'd', upstream: [c], run: noop });
  });
}

/**
 * extract → train → rank ─┐
 *              └→ fallback (one_failed) ─┴→ publish (one_success)
 * The fallback branch carries the run to a publish when training fails.
 */
function withFallback(): Dag {
  return dag({ dagId: 'with_fallback', schedule: null }, () => {
    const extract = task({ taskId: 'extract', run: noop });
    const train = task({ taskId: 'train', upstream: [extract], run: noop });
    const rank = task({ taskId: 'rank', upstream: [train], run: noop });
    const fallback = task({ taskId: 'fallback', upstream: [train], triggerRule: 'one_failed', run: noop });
    task({ taskId: 'publish', upstream: [rank, fallback], triggerRule: 'one_success', run: noop });
  });
}

function states(entries: Record<string, TaskState>): Map<string, TaskState> {
  return new Map(Object.entries(entries));
}

describe('settleTasks', () => {
  it('schedules the roots of a fresh run and nothing else', () => {
    const changes = settleTasks(chain(), states({ a: 'none', b: 'none', c: 'none', d: 'none' }));
    expect(Object.fromEntries(changes)).toEqual({ a: 'scheduled' });
  });

  it('schedules the next task once its upstream succeeded, and lets the rest wait', () => {
    const changes = settleTasks(chain(), states({ a: 'success', b: 'none', c: 'none', d: 'none' }));
    expect(Object.fromEntries(changes)).toEqual({ b: 'scheduled' });
  });

  it('cascades upstream_failed down a chain in one pass', () => {
    const changes = settleTasks(chain(), states({ a: 'failed', b: 'none', c: 'none', d: 'none' }));
    expect(Object.fromEntries(changes)).toEqual({ b: 'upstream_failed', c: 'upstream_failed', d: 'upstream_failed' });
  });

  it('cascades skipped down a chain in one pass', () => {
    const changes = settleTasks(chain(), states({ a: 'skipped', b: 'none', c: 'none', d: 'none' }));
    expect(Object.fromEntries(changes)).toEqual({ b: 'skipped', c: 'skipped', d: 'skipped' });
  });

  it('cascades from the middle of a chain', () => {
    const changes = settleTasks(chain(), states({ a: 'success', b: 'failed', c: 'none', d: 'none' }));
    expect(Object.fromEntries(changes)).toEqual({ c: 'upstream_failed', d: 'upstream_failed' });
  });

  it('does not return a change for a task whose state is already decided', () => {
    const changes = settleTasks(chain(), states({ a: 'success', b: 'success', c: 'success', d: 'success' }));
    expect(changes.size).toBe(0);
  });

  it.each<TaskState>(['scheduled', 'queued', 'running', 'up_for_retry', 'success', 'failed', 'skipped', 'upstream_failed'])(
    'leaves a task in %s alone, even when its upstream failed',
    (state) => {
      const changes = settleTasks(chain(), states({ a: 'failed', b: state, c: 'success', d: 'success' }));
      expect(changes.has('b')).toBe(false);
    },
  );

  it.each<TaskState>(['scheduled', 'queued', 'running', 'up_for_retry'])('waits while the upstream is %s', (state) => {
    const changes = settleTasks(chain(), states({ a: state, b: 'none', c: 'none', d: 'none' }));
    expect(changes.size).toBe(0);
  });

  it('treats an upstream missing from the map as none (waits)', () => {
    const changes = settleTasks(chain(), states({ b: 'none', c: 'none', d: 'none' }));
    expect(changes.size).toBe(0);
  });

  it('does not mutate the states it is given', () => {
    const input = states({ a: 'failed', b: 'none', c: 'none', d: 'none' });
    const before = new Map(input);
    settleTasks(chain(), input);
    expect(input).toEqual(before);
  });

  describe('fallback branch with one_failed', () => {
    it('when training fails: rank is upstream_failed, fallback is scheduled, publish waits', () => {
      const changes = settleTasks(withFallback(), states({ extract: 'success', train: 'failed', rank: 'none', fallback: 'none', publish: 'none' }));
      expect(Object.fromEntries(changes)).toEqual({ rank: 'upstream_failed', fallback: 'scheduled' });
    });

    it('when the fallback then succeeds, publish is scheduled', () => {
      const changes = settleTasks(withFallback(), states({ extract: 'success', train: 'failed', rank: 'upstream_failed', fallback: 'success', publish: 'none' }));
      expect(Object.fromEntries(changes)).toEqual({ publish: 'scheduled' });
    });

    it('when training succeeds: rank is scheduled and the fallback skipped', () => {
      const changes = settleTasks(withFallback(), states({ extract: 'success', train: 'success', rank: 'none', fallback: 'none', publish: 'none' }));
      expect(Object.fromEntries(changes)).toEqual({ rank: 'scheduled', fallback: 'skipped' });
    });

    it('when extract fails, upstream_failed reaches train and rank, and the fallback runs (upstream_failed counts as failed)', () => {
      const changes = settleTasks(withFallback(), states({ extract: 'failed', train: 'none', rank: 'none', fallback: 'none', publish: 'none' }));
      expect(Object.fromEntries(changes)).toEqual({ train: 'upstream_failed', rank: 'upstream_failed', fallback: 'scheduled' });
    });

    it('when the fallback fails too, publish becomes upstream_failed', () => {
      const changes = settleTasks(withFallback(), states({ extract: 'success', train: 'failed', rank: 'upstream_failed', fallback: 'failed', publish: 'none' }));
      expect(Object.fromEntries(changes)).toEqual({ publish: 'upstream_failed' });
    });

    it('while train is up_for_retry, nothing downstream is decided', () => {
      const changes = settleTasks(withFallback(), states({ extract: 'success', train: 'up_for_retry', rank: 'none', fallback: 'none', publish: 'none' }));
      expect(changes.size).toBe(0);
    });

    it('the example DAG schedules its one_failed fallback when train fails', () => {
      const changes = settleTasks(example, states({ extract: 'success', train: 'failed', fallback: 'none' }));
      expect(Object.fromEntries(changes)).toEqual({ fallback: 'scheduled' });
    });
  });
});

describe('finishedRunState', () => {
  it.each<TaskState>(['none', 'scheduled', 'queued', 'running', 'up_for_retry'])('is null while a task is %s', (state) => {
    expect(finishedRunState(chain(), states({ a: 'success', b: 'success', c: state, d: 'none' }))).toBeNull();
    expect(finishedRunState(chain(), states({ a: state, b: 'success', c: 'success', d: 'success' }))).toBeNull();
  });

  it('is null while a task has no state at all', () => {
    expect(finishedRunState(chain(), states({ a: 'success', b: 'success', c: 'success' }))).toBeNull();
  });

  it('is success when every task succeeded', () => {
    expect(finishedRunState(chain(), states({ a: 'success', b: 'success', c: 'success', d: 'success' }))).toBe('success');
  });

  it.each<[TaskState, 'success' | 'failed']>([
    ['success', 'success'],
    ['skipped', 'success'],
    ['failed', 'failed'],
    ['upstream_failed', 'failed'],
  ])('a leaf in %s makes the run %s', (leafState, expected) => {
    expect(finishedRunState(chain(), states({ a: 'success', b: 'success', c: 'success', d: leafState }))).toBe(expected);
  });

  it('a failed non-leaf whose one_failed fallback leaf succeeded leaves the run success (example DAG)', () => {
    expect(example.leaves).toEqual(['fallback']);
    expect(finishedRunState(example, states({ extract: 'success', train: 'failed', fallback: 'success' }))).toBe('success');
  });

  it('training succeeding and the fallback being skipped is a successful run (example DAG)', () => {
    expect(finishedRunState(example, states({ extract: 'success', train: 'success', fallback: 'skipped' }))).toBe('success');
  });

  it('the fallback failing fails the run (example DAG)', () => {
    expect(finishedRunState(example, states({ extract: 'success', train: 'failed', fallback: 'failed' }))).toBe('failed');
  });

  it('a failed train carried to publish by the fallback branch is a successful run', () => {
    expect(
      finishedRunState(withFallback(), states({ extract: 'success', train: 'failed', rank: 'upstream_failed', fallback: 'success', publish: 'success' })),
    ).toBe('success');
  });

  it('with several leaves, one failed leaf fails the run', () => {
    const d = dag({ dagId: 'two_leaves', schedule: null }, () => {
      const root = task({ taskId: 'root', run: noop });
      task({ taskId: 'left', upstream: [root], run: noop });
      task({ taskId: 'right', upstream: [root], run: noop });
    });
    expect(d.leaves.sort()).toEqual(['left', 'right']);
    expect(finishedRunState(d, states({ root: 'success', left: 'success', right: 'failed' }))).toBe('failed');
    expect(finishedRunState(d, states({ root: 'success', left: 'success', right: 'skipped' }))).toBe('success');
  });

  it('settling then finishing a run whose first task failed gives a failed run', () => {
    const d = chain();
    const current = states({ a: 'failed', b: 'none', c: 'none', d: 'none' });
    for (const [taskId, state] of settleTasks(d, current)) current.set(taskId, state);
    expect(finishedRunState(d, current)).toBe('failed');
  });
});

describe('retryDelayMs', () => {
  const fixed = { retryDelayMs: 30_000, retryExponentialBackoff: false, maxRetryDelayMs: 600_000 };
  const exponential = { retryDelayMs: 30_000, retryExponentialBackoff: true, maxRetryDelayMs: 600_000 };

  it.each([1, 2, 3, 10])('fixed delay is the same after try %i', (tryNumber) => {
    expect(retryDelayMs(fixed, tryNumber)).toBe(30_000);
  });

  it.each([
    [1, 30_000],
    [2, 60_000],
    [3, 120_000],
    [4, 240_000],
    [5, 480_000],
    [6, 600_000], // 960 s capped at 600 s
    [7, 600_000],
  ])('exponential delay after try %i is %i ms', (tryNumber, expected) => {
    expect(retryDelayMs(exponential, tryNumber)).toBe(expected);
  });

  it('exponential delay never exceeds the cap, however many tries', () => {
    expect(retryDelayMs(exponential, 50)).toBe(600_000);
    expect(retryDelayMs(exponential, 5_000)).toBe(600_000);
  });

  it('a try number below 1 is treated as the first try', () => {
    expect(retryDelayMs(exponential, 0)).toBe(30_000);
  });

  // Documented in TaskDefaults as "Cap on the retry delay", so it caps a fixed delay too.
  // (Airflow applies max_retry_delay only with exponential backoff.)
  it('caps a fixed delay larger than the cap', () => {
    expect(retryDelayMs({ retryDelayMs: 3_600_000, retryExponentialBackoff: false, maxRetryDelayMs: 600_000 }, 1)).toBe(600_000);
  });

  it('a zero delay stays zero', () => {
    expect(retryDelayMs({ retryDelayMs: 0, retryExponentialBackoff: true, maxRetryDelayMs: 600_000 }, 5)).toBe(0);
  });

  it('works on a task definition from dag() (example: 30s, exponential, capped at 10m)', () => {
    const train = example.task('train');
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(train, n))).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000]);
  });

  it('uses the defaults (5m fixed, 1d cap) for a task that sets none', () => {
    const d = chain();
    expect(retryDelayMs(d.task('a'), 1)).toBe(300_000);
    expect(retryDelayMs(d.task('a'), 4)).toBe(300_000);
  });
});
