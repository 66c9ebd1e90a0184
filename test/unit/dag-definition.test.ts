import { describe, expect, it } from 'vitest';
import { Dag, DagDefinitionError, dag, task, type DagOptions, type TaskHandle } from 'flywheel';
import example from '../../dags/examples/example.ts';

const noop = () => {};

/** Runs `build` and returns the DagDefinitionError it throws (fails the test otherwise). */
function definitionError(build: () => unknown): DagDefinitionError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(DagDefinitionError);
    return error as DagDefinitionError;
  }
  throw new Error('expected a DagDefinitionError, nothing was thrown');
}

function oneTask(options: Partial<DagOptions> = {}): Dag {
  return dag({ dagId: 'one', schedule: null, ...options }, () => {
    task({ taskId: 't', run: noop });
  });
}

describe('the example DAG', () => {
  it('builds with its options', () => {
    expect(example).toBeInstanceOf(Dag);
    expect(example.dagId).toBe('example');
    expect(example.schedule).toBe('0 4 * * *');
    expect(example.timezone).toBe('America/New_York');
    expect(example.timetable?.expression).toBe('0 4 * * *');
    expect(example.timetable?.timezone).toBe('America/New_York');
    expect(example.catchup).toBe(false);
    // '2026-01-01' is read in the DAG's timezone
    expect(example.startDate?.toISOString()).toBe('2026-01-01T05:00:00.000Z');
    expect(example.endDate).toBeNull();
    expect(example.maxActiveRuns).toBe(1);
    expect(example.maxActiveTasks).toBe(8);
    expect(example.tags).toEqual(['example']);
  });

  it('has its tasks in order, with its leaves', () => {
    expect([...example.tasks.keys()]).toEqual(['extract', 'train', 'fallback']);
    expect(example.topologicalOrder).toEqual(['extract', 'train', 'fallback']);
    expect(example.leaves).toEqual(['fallback']);
    expect(example.task('train').upstreamIds).toEqual(['extract']);
    expect(example.task('fallback').upstreamIds).toEqual(['train']);
    expect(example.task('fallback').triggerRule).toBe('one_failed');
  });

  it('applies its defaultArgs to every task', () => {
    for (const taskId of ['extract', 'train', 'fallback']) {
      expect(example.task(taskId)).toMatchObject({
        retries: 2,
        retryDelayMs: 30_000,
        retryExponentialBackoff: true,
        maxRetryDelayMs: 600_000,
        executionTimeoutMs: 3_600_000,
        pool: 'default',
      });
    }
  });
});

describe('defaults', () => {
  it('resolves DAG defaults', () => {
    const d = oneTask();
    expect(d).toMatchObject({
      schedule: null,
      timetable: null,
      timezone: 'UTC',
      catchup: false,
      startDate: null,
      endDate: null,
      maxActiveRuns: 16,
      maxActiveTasks: 16,
      tags: [],
      description: null,
      isPausedUponCreation: false,
      fileloc: null,
    });
  });

  it('resolves task defaults', () => {
    const { run, ...definition } = oneTask().task('t');
    expect(typeof run).toBe('function');
    expect(definition).toEqual({
      taskId: 't',
      upstreamIds: [],
      doc: null,
      retries: 0,
      retryDelayMs: 300_000,
      retryExponentialBackoff: false,
      maxRetryDelayMs: 86_400_000,
      executionTimeoutMs: null,
      pool: 'default',
      priorityWeight: 1,
      triggerRule: 'all_success',
      sandboxed: false,
    });
  });

  it('keeps the options it was given', () => {
    const d = dag(
      {
        dagId: 'opts',
        schedule: '@daily',
        timezone: 'Europe/Berlin',
        catchup: true,
        startDate: new Date('2026-01-01T00:00:00Z'),
        endDate: '2026-12-31',
        description: 'a DAG',
        isPausedUponCreation: true,
        tags: ['a', 'b'],
      },
      () => {
        task({ taskId: 't', doc: 'does t', run: noop });
      },
    );
    expect(d.catchup).toBe(true);
    expect(d.startDate?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(d.endDate?.toISOString()).toBe('2026-12-30T23:00:00.000Z'); // midnight in Berlin (UTC+1)
    expect(d.description).toBe('a DAG');
    expect(d.isPausedUponCreation).toBe(true);
    expect(d.tags).toEqual(['a', 'b']);
    expect(d.timetable?.expression).toBe('0 0 * * *');
    expect(d.task('t').doc).toBe('does t');
  });

  it('merges defaultArgs, and a task overrides them', () => {
    const d = dag(
      {
        dagId: 'merge',
        schedule: null,
        defaultArgs: { retries: 3, retryDelay: '10s', pool: 'gpu', priorityWeight: 5, executionTimeout: '1h', triggerRule: 'all_done', sandboxed: true },
      },
      () => {
        task({ taskId: 'inherits', run: noop });
        task({ taskId: 'overrides', retries: 0, retryDelay: 250, pool: 'default', executionTimeout: null, triggerRule: 'always', sandboxed: false, run: noop });
        task({ taskId: 'undefined_keeps_default', retries: undefined, pool: undefined, run: noop });
      },
    );
    expect(d.task('inherits')).toMatchObject({
      retries: 3,
      retryDelayMs: 10_000,
      pool: 'gpu',
      priorityWeight: 5,
      executionTimeoutMs: 3_600_000,
      triggerRule: 'all_done',
      sandboxed: true,
      retryExponentialBackoff: false, // not in defaultArgs: the global default
      maxRetryDelayMs: 86_400_000,
    });
    expect(d.task('overrides')).toMatchObject({
      retries: 0,
      retryDelayMs: 250,
      pool: 'default',
      priorityWeight: 5,
      executionTimeoutMs: null,
      triggerRule: 'always',
      sandboxed: false,
    });
    expect(d.task('undefined_keeps_default')).toMatchObject({ retries: 3, pool: 'gpu' });
  });

  it('returns a handle naming the task and its DAG', () => {
    let handle: TaskHandle | undefined;
    dag({ dagId: 'handles', schedule: null }, () => {
      handle = task({ taskId: 'h', run: noop });
    });
    expect(handle).toEqual({ taskId: 'h', dagId: 'handles' });
  });
});

describe('durations', () => {
  it.each([
    ['100ms', 100],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    [0, 0],
    [1500, 1500],
  ])('retryDelay, maxRetryDelay and executionTimeout %j are %i ms', (value, expected) => {
    const d = dag({ dagId: 'durations', schedule: null }, () => {
      task({ taskId: 't', retryDelay: value, maxRetryDelay: value, executionTimeout: value, run: noop });
    });
    expect(d.task('t')).toMatchObject({ retryDelayMs: expected, maxRetryDelayMs: expected, executionTimeoutMs: expected });
  });

  it.each(['retryDelay', 'maxRetryDelay', 'executionTimeout'] as const)('a bad %s string is rejected naming the DAG, the task and the option', (option) => {
    const error = definitionError(() =>
      dag({ dagId: 'durations', schedule: null }, () => {
        task({ taskId: 'slow', [option]: 'soon', run: noop });
      }),
    );
    expect(error.message).toBe(`DAG "durations", task "slow": ${option} "soon" is not a duration (use ms or '100ms', '30s', '5m', '1h')`);
    expect(error.dagId).toBe('durations');
    expect(error.taskId).toBe('slow');
  });

  it('a bad duration in defaultArgs is reported against the first task that uses it', () => {
    const error = definitionError(() =>
      dag({ dagId: 'durations', schedule: null, defaultArgs: { retryDelay: 'later' } }, () => {
        task({ taskId: 'first', run: noop });
      }),
    );
    expect(error.message).toContain('DAG "durations", task "first"');
    expect(error.message).toContain('retryDelay "later" is not a duration');
  });

  it('a negative number is rejected', () => {
    const error = definitionError(() =>
      dag({ dagId: 'durations', schedule: null }, () => {
        task({ taskId: 'neg', retryDelay: -5, run: noop });
      }),
    );
    expect(error.message).toMatch(/^DAG "durations", task "neg": retryDelay/);
  });
});

describe('graph', () => {
  /** a → b, a → c, b → d, c → d; e stands alone. */
  const diamond = () =>
    dag({ dagId: 'diamond', schedule: null }, () => {
      const a = task({ taskId: 'a', run: noop });
      const b = task({ taskId: 'b', upstream: [a], run: noop });
      const c = task({ taskId: 'c', upstream: [a], run: noop });
      task({ taskId: 'd', upstream: [b, c], run: noop });
      task({ taskId: 'e', run: noop });
    });

  const assertTopological = (d: Dag) => {
    expect([...d.topologicalOrder].sort()).toEqual([...d.tasks.keys()].sort());
    const position = new Map(d.topologicalOrder.map((taskId, i) => [taskId, i]));
    for (const definition of d.tasks.values()) {
      for (const upstreamId of definition.upstreamIds) expect(position.get(upstreamId)!).toBeLessThan(position.get(definition.taskId)!);
    }
  };

  it('topologicalOrder lists every task once, after all of its upstream tasks', () => {
    const d = diamond();
    assertTopological(d);
    expect(d.topologicalOrder.indexOf('d')).toBeGreaterThan(d.topologicalOrder.indexOf('b'));
    expect(d.topologicalOrder.indexOf('d')).toBeGreaterThan(d.topologicalOrder.indexOf('c'));
  });

  it('topologicalOrder puts a dependsOn upstream first even when it is declared later', () => {
    const d = dag({ dagId: 'forward', schedule: null }, () => {
      task({ taskId: 'report', dependsOn: ['load'], run: noop });
      task({ taskId: 'load', dependsOn: ['fetch'], run: noop });
      task({ taskId: 'fetch', run: noop });
    });
    expect(d.topologicalOrder).toEqual(['fetch', 'load', 'report']);
    assertTopological(d);
  });

  it('leaves are the tasks nothing depends on', () => {
    expect(diamond().leaves.sort()).toEqual(['d', 'e']);
  });

  it('downstreamOf gives direct downstream tasks', () => {
    const d = diamond();
    expect([...d.downstreamOf('a')].sort()).toEqual(['b', 'c']);
    expect(d.downstreamOf('b')).toEqual(['d']);
    expect(d.downstreamOf('d')).toEqual([]);
    expect(d.downstreamOf('e')).toEqual([]);
    expect(d.downstreamOf('no_such_task')).toEqual([]);
  });

  it('allDownstreamOf gives every task reachable downstream, not the task itself', () => {
    const d = diamond();
    expect([...d.allDownstreamOf('a')].sort()).toEqual(['b', 'c', 'd']);
    expect([...d.allDownstreamOf('c')]).toEqual(['d']);
    expect(d.allDownstreamOf('d').size).toBe(0);
    expect(d.allDownstreamOf('e').size).toBe(0);
  });

  it('upstream handles and dependsOn combine, without duplicates', () => {
    const d = dag({ dagId: 'combine', schedule: null }, () => {
      const a = task({ taskId: 'a', run: noop });
      task({ taskId: 'b', run: noop });
      task({ taskId: 'c', upstream: [a], dependsOn: ['b', 'a'], run: noop });
    });
    expect(d.task('c').upstreamIds).toEqual(['a', 'b']);
    expect([...d.downstreamOf('a')]).toEqual(['c']);
    expect(d.topologicalOrder.at(-1)).toBe('c');
  });

  it('task() throws a plain Error for an unknown task id', () => {
    expect(() => diamond().task('zzz')).toThrow('DAG "diamond" has no task "zzz"');
  });
});

describe('definition errors', () => {
  it('duplicate taskId', () => {
    const error = definitionError(() =>
      dag({ dagId: 'dups', schedule: null }, () => {
        task({ taskId: 'same', run: noop });
        task({ taskId: 'same', run: noop });
      }),
    );
    expect(error.message).toBe('DAG "dups", task "same": duplicate taskId');
    expect(error).toMatchObject({ name: 'DagDefinitionError', dagId: 'dups', taskId: 'same' });
  });

  it("unknown upstream via dependsOn: ['nope']", () => {
    const error = definitionError(() =>
      dag({ dagId: 'unknown_up', schedule: null }, () => {
        task({ taskId: 'needs', dependsOn: ['nope'], run: noop });
      }),
    );
    expect(error.message).toBe('DAG "unknown_up", task "needs": unknown upstream "nope"');
    expect(error).toMatchObject({ dagId: 'unknown_up', taskId: 'needs' });
  });

  it('cycle via dependsOn names every task on it', () => {
    const error = definitionError(() =>
      dag({ dagId: 'loop', schedule: null }, () => {
        const a = task({ taskId: 'a', dependsOn: ['c'], run: noop });
        const b = task({ taskId: 'b', upstream: [a], run: noop });
        task({ taskId: 'c', upstream: [b], run: noop });
        task({ taskId: 'outside', run: noop });
      }),
    );
    expect(error.message).toContain('DAG "loop"');
    expect(error.message).toContain('cycle');
    for (const taskId of ['a', 'b', 'c']) expect(error.message).toContain(`${taskId}`);
    expect(error.message).not.toContain('outside');
    expect(error.message).toMatch(/cycle: a → b → c → a$/);
    expect(error.dagId).toBe('loop');
    expect(['a', 'b', 'c']).toContain(error.taskId);
  });

  it('two-task cycle via dependsOn only', () => {
    const error = definitionError(() =>
      dag({ dagId: 'pair', schedule: null }, () => {
        task({ taskId: 'x', dependsOn: ['y'], run: noop });
        task({ taskId: 'y', dependsOn: ['x'], run: noop });
      }),
    );
    expect(error.message).toMatch(/cycle: (x → y → x|y → x → y)/);
  });

  it('a task depending on itself', () => {
    const error = definitionError(() =>
      dag({ dagId: 'selfish', schedule: null }, () => {
        task({ taskId: 'me', dependsOn: ['me'], run: noop });
      }),
    );
    expect(error.message).toBe('DAG "selfish", task "me": depends on itself');
  });

  it('a handle from another DAG', () => {
    let foreign!: TaskHandle<'theirs', void>;
    dag({ dagId: 'other_dag', schedule: null }, () => {
      foreign = task({ taskId: 'theirs', run: noop });
    });
    const error = definitionError(() =>
      dag({ dagId: 'mine', schedule: null }, () => {
        task({ taskId: 'ours', upstream: [foreign], run: noop });
      }),
    );
    expect(error.message).toBe('DAG "mine", task "ours": unknown upstream "theirs" (it belongs to DAG "other_dag")');
    expect(error).toMatchObject({ dagId: 'mine', taskId: 'ours' });
  });

  it.each([
    ['0 4 * *', 'must have 5 fields'],
    ['0 25 * * *', 'is invalid'],
    ['@fortnightly', 'unknown schedule preset'],
  ])('bad cron %j', (schedule, fragment) => {
    const error = definitionError(() => oneTask({ dagId: 'cron', schedule, startDate: '2026-01-01' }));
    expect(error.message).toMatch(/^DAG "cron": /);
    expect(error.message).toContain(JSON.stringify(schedule));
    expect(error.message).toContain(fragment);
    expect(error.dagId).toBe('cron');
  });

  it('bad timezone', () => {
    const error = definitionError(() => oneTask({ dagId: 'tz', schedule: '@daily', timezone: 'Atlantis/Capital', startDate: '2026-01-01' }));
    expect(error.message).toBe(`DAG "tz": timezone "Atlantis/Capital" is not an IANA timezone (e.g. 'UTC', 'America/New_York')`);
  });

  it('bad timezone on a manual-only DAG too', () => {
    const error = definitionError(() => oneTask({ dagId: 'tz2', schedule: null, timezone: 'Nope/Nope' }));
    expect(error.message).toContain('DAG "tz2"');
  });

  it('scheduled DAG without startDate', () => {
    const error = definitionError(() => oneTask({ dagId: 'nostart', schedule: '@daily' }));
    expect(error.message).toBe('DAG "nostart": a scheduled DAG needs a startDate');
  });

  it('a manual-only DAG needs no startDate', () => {
    expect(oneTask({ schedule: null }).startDate).toBeNull();
  });

  it('startDate that is not a date', () => {
    const error = definitionError(() => oneTask({ dagId: 'baddate', schedule: '@daily', startDate: 'someday' }));
    expect(error.message).toMatch(/^DAG "baddate": date "someday" is not ISO 8601/);
  });

  it('task() outside dag()', () => {
    const error = definitionError(() => task({ taskId: 'orphan', run: noop }));
    expect(error.message).toBe('task "orphan" must be declared inside a dag(...) body');
    expect(error.taskId).toBe('orphan');
    expect(error.dagId).toBeUndefined();
  });

  it('no tasks', () => {
    const error = definitionError(() => dag({ dagId: 'empty', schedule: null }, () => {}));
    expect(error.message).toBe('DAG "empty": has no tasks');
  });

  it('bad trigger rule on a task', () => {
    const error = definitionError(() =>
      dag({ dagId: 'rules', schedule: null }, () => {
        // @ts-expect-error -- not a trigger rule
        task({ taskId: 'r', triggerRule: 'sometimes', run: noop });
      }),
    );
    expect(error.message).toMatch(/^DAG "rules", task "r": triggerRule: /);
    expect(error.message).toContain('all_success');
    expect(error).toMatchObject({ dagId: 'rules', taskId: 'r' });
  });

  it('bad trigger rule in defaultArgs', () => {
    const error = definitionError(() =>
      // @ts-expect-error -- not a trigger rule
      dag({ dagId: 'rules2', schedule: null, defaultArgs: { triggerRule: 'whenever' } }, () => {
        task({ taskId: 'r', run: noop });
      }),
    );
    expect(error.message).toMatch(/^DAG "rules2": defaultArgs\.triggerRule: /);
  });

  it.each(['my dag', 'dag/1', 'dag:1', 'dåg', ''])('invalid dagId %j', (dagId) => {
    const error = definitionError(() => oneTask({ dagId }));
    expect(error.message).toContain(`DAG "${dagId}"`);
    expect(error.message).toContain('dagId uses letters, digits, _, - and .');
    expect(error.dagId).toBe(dagId);
  });

  it.each(['ok_id', 'ok-id', 'ok.id', 'OK123'])('valid dagId %j', (dagId) => {
    expect(oneTask({ dagId }).dagId).toBe(dagId);
  });

  it('invalid taskId characters', () => {
    const error = definitionError(() =>
      dag({ dagId: 'ids', schedule: null }, () => {
        task({ taskId: 'has space', run: noop });
      }),
    );
    expect(error.message).toBe('DAG "ids", task "has space": taskId: taskId uses letters, digits, _, - and .');
  });

  it('an unknown option key', () => {
    const error = definitionError(() => oneTask({ dagId: 'typo', shedule: '@daily' } as Partial<DagOptions>));
    expect(error.message).toContain('DAG "typo"');
    expect(error.message).toContain('shedule');
  });

  it('a bad pool name', () => {
    const error = definitionError(() =>
      dag({ dagId: 'pools', schedule: null }, () => {
        task({ taskId: 'p', pool: 'gpu pool', run: noop });
      }),
    );
    expect(error.message).toMatch(/^DAG "pools", task "p": pool: /);
  });

  it('validateConf that is not a function', () => {
    const error = definitionError(() => oneTask({ dagId: 'confs', validateConf: 'members > 0' } as unknown as Partial<DagOptions>));
    expect(error.message).toBe('DAG "confs": validateConf: validateConf must be a function');
  });

  it('validateConf is kept on the DAG (null without one)', () => {
    const validateConf = (conf: Record<string, unknown>) => {
      if (conf.x !== undefined) throw new Error('no x');
    };
    expect(oneTask({ validateConf }).validateConf).toBe(validateConf);
    expect(oneTask().validateConf).toBeNull();
  });

  it('run that is not a function', () => {
    const error = definitionError(() =>
      dag({ dagId: 'runs', schedule: null }, () => {
        // @ts-expect-error -- run must be a function
        task({ taskId: 'r', run: 42 });
      }),
    );
    expect(error.message).toContain('run must be a function');
  });

  it('nested dag()', () => {
    const error = definitionError(() =>
      dag({ dagId: 'outer', schedule: null }, () => {
        dag({ dagId: 'inner', schedule: null }, () => {
          task({ taskId: 't', run: noop });
        });
      }),
    );
    expect(error.message).toBe('DAG "inner": dag() cannot be nested inside DAG "outer"');
  });

  it('a failed dag() does not leave task() attached to it', () => {
    expect(() =>
      dag({ dagId: 'broken', schedule: null }, () => {
        task({ taskId: 'a', run: noop });
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(() => task({ taskId: 'later', run: noop })).toThrow('must be declared inside a dag(...) body');
    expect(oneTask({ dagId: 'after_failure' }).tasks.size).toBe(1);
  });
});
