/** A helper module beside the DAGs: DAG files import it like any other TypeScript file. */
// A type alias, not an interface: task outputs must be JSON, and TypeScript only treats an
// alias's object type as assignable to the SDK's JSON type.
export type Summary = {
  count: number;
  total: number;
  mean: number | null;
};

export function summarize(values: readonly number[]): Summary {
  const total = values.reduce((sum, value) => sum + value, 0);
  return { count: values.length, total, mean: values.length === 0 ? null : total / values.length };
}
