/**
 * Compile-time checks of the authoring API (run by `tsc --noEmit` in `npm test`): each
 * `// @ts-expect-error` must be an error, or tsc fails. Runtime assertions run the tasks'
 * `run` functions with a fake context.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { DagDefinitionError, dag, task, type Dag, type JsonValue, type OutputOf, type TaskContext, type TaskHandle } from 'flywheel';

/** A context whose `upstream()` reads from `outputs`, for running a task's `run` directly. */
function fakeContext(taskId: string, outputs: Record<string, JsonValue>): TaskContext {
  const log = Object.assign((_message: string) => {}, { info: () => {}, warn: () => {}, error: () => {} });
  return {
    dagId: 'typed',
    runId: 'manual__test',
    taskId,
    tryNumber: 1,
    maxTries: 1,
    logicalDate: new Date('2026-01-01T00:00:00Z'),
    dataInterval: { start: new Date('2026-01-01T00:00:00Z'), end: new Date('2026-01-02T00:00:00Z') },
    conf: {},
    signal: new AbortController().signal,
    log,
    upstream: async (handle) => outputs[handle.taskId] as never,
  };
}

let extractHandle!: TaskHandle<'extract', { rows: number; source: string }>;
// Assigned inside the DAG body below; the type-level checks read them through `typeof`.
// eslint-disable-next-line @typescript-eslint/no-unused-vars
let countHandle!: TaskHandle<'count', number>;
// eslint-disable-next-line @typescript-eslint/no-unused-vars
let touchHandle!: TaskHandle<'touch', void>;

const typed: Dag = dag({ dagId: 'typed', schedule: null }, () => {
  const extract = task({ taskId: 'extract', run: async () => ({ rows: 10, source: 'db' }) });
  const count = task({ taskId: 'count', run: () => [1, 2, 3].length });
  const touch = task({ taskId: 'touch', run: () => {} });
  extractHandle = extract;
  countHandle = count;
  touchHandle = touch;

  expectTypeOf(extract).toEqualTypeOf<TaskHandle<'extract', { rows: number; source: string }>>();
  expectTypeOf(count).toEqualTypeOf<TaskHandle<'count', number>>();
  expectTypeOf(extract.taskId).toEqualTypeOf<'extract'>();

  task({
    taskId: 'train',
    upstream: [extract, count, touch],
    run: async (ctx) => {
      const data = await ctx.upstream(extract);
      expectTypeOf(data).toEqualTypeOf<{ rows: number; source: string }>();
      const n = await ctx.upstream(count);
      expectTypeOf(n).toEqualTypeOf<number>();
      // a task that returns nothing reads back as null
      const nothing = await ctx.upstream(touch);
      expectTypeOf(nothing).toEqualTypeOf<null>();
      // @ts-expect-error -- `rows` is a number, not a string
      const wrong: string = data.rows;
      void wrong;
      return { version: data.rows + n, nothing };
    },
  });

  const unrelated = task({ taskId: 'unrelated', run: () => 'x' });
  task({
    taskId: 'only_extract',
    upstream: [extract],
    run: async (ctx) => {
      // @ts-expect-error -- `unrelated` is not listed in this task's upstream
      await ctx.upstream(unrelated);
      // @ts-expect-error -- neither is `count`
      await ctx.upstream(count);
      return (await ctx.upstream(extract)).rows;
    },
  });

  task({
    taskId: 'no_upstream',
    run: async (ctx) => {
      // @ts-expect-error -- a task without upstream cannot read any upstream output
      await ctx.upstream(extract);
    },
  });

  // @ts-expect-error -- a Date is not JSON: run may not return it
  task({ taskId: 'returns_date', run: () => new Date() });

  // @ts-expect-error -- nor asynchronously
  task({ taskId: 'returns_date_async', run: async () => new Date() });

  // @ts-expect-error -- nor a function
  task({ taskId: 'returns_function', run: () => () => 1 });

  // @ts-expect-error -- nor a Map nested inside an object
  task({ taskId: 'returns_map', run: () => ({ m: new Map<string, number>() }) });

  // JSON shapes are fine
  task({ taskId: 'returns_json', run: () => ({ a: [1, 'two', null, { b: true }] }) });
  task({ taskId: 'returns_null', run: async () => null });
});

describe('typed DAG (compile-time checks above)', () => {
  it('OutputOf reads void as null', () => {
    expectTypeOf<OutputOf<typeof touchHandle>>().toEqualTypeOf<null>();
    expectTypeOf<OutputOf<typeof countHandle>>().toEqualTypeOf<number>();
  });

  it('builds, with the upstream ids from the handles', () => {
    expect(typed.task('train').upstreamIds).toEqual(['extract', 'count', 'touch']);
    expect(typed.task('only_extract').upstreamIds).toEqual(['extract']);
    expect(extractHandle).toEqual({ taskId: 'extract', dagId: 'typed' });
  });

  it('a task reads its upstream outputs through ctx.upstream', async () => {
    const ctx = fakeContext('train', { extract: { rows: 10, source: 'db' }, count: 3, touch: null });
    await expect(typed.task('train').run(ctx)).resolves.toEqual({ version: 13, nothing: null });
  });

  it('runs return their values', async () => {
    const ctx = fakeContext('x', {});
    await expect(typed.task('extract').run(ctx)).resolves.toEqual({ rows: 10, source: 'db' });
    expect(typed.task('count').run(ctx)).toBe(3);
    expect(typed.task('touch').run(ctx)).toBeUndefined();
  });

  it('what the types reject is rejected at run time too', () => {
    expect(() =>
      dag({ dagId: 'untyped', schedule: null }, () => {
        task({ taskId: 'extract', run: () => {} });
        // @ts-expect-error -- upstream entries are task handles, not task ids
        task({ taskId: 'string_upstream', upstream: ['extract'], run: () => {} });
      }),
    ).toThrow(/DAG "untyped", task "string_upstream": upstream\.0: upstream entries must be task handles/);
    expect(() =>
      dag({ dagId: 'untyped', schedule: null }, () => {
        // @ts-expect-error -- not a trigger rule
        task({ taskId: 'bad_rule', triggerRule: 'all_passed', run: () => {} });
      }),
    ).toThrow(DagDefinitionError);
  });

  it('the example DAG train task reads extract through its handle', async () => {
    const { default: example } = await import('../../dags/examples/example.ts');
    await expect(example.task('train').run(fakeContext('train', { extract: { rows: 7 } }))).resolves.toEqual({ version: 7 });
  });
});
