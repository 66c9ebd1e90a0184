/**
 * Limits on values that come from outside (a request's JSON body, query and route parameters,
 * the CLI's `--conf`), checked before anything recursive or PostgreSQL sees them.
 */

/**
 * The deepest nesting of JSON taken from outside. Recursive code (zod's `z.json()`,
 * `structuredClone`, `JSON.stringify`) overflows the stack near 2,000 levels, which would be a 500
 * (or a crash) instead of a refusal; no real conf or request body comes near 64.
 */
export const MAX_JSON_DEPTH = 64;

/** NUL (U+0000): PostgreSQL cannot store it in `text` (nor in `jsonb` strings). */
const NUL = '\u0000';

/**
 * Why `value` (named `name` in the reason) cannot be taken, or null: nested deeper than
 * `maxDepth` arrays and objects, or a string or object key holding NUL. The reason names the
 * first offending place (`body.conf.title: …`). Iterative, so any depth is safe to check.
 */
export function jsonInputProblem(value: unknown, name: string, maxDepth = MAX_JSON_DEPTH): string | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: name, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item.value === 'string') {
      if (item.value.includes(NUL)) return `${item.path}: contains a NUL character (U+0000), which cannot be stored`;
      continue;
    }
    if (typeof item.value !== 'object' || item.value === null) continue;
    const depth = item.depth + 1;
    if (depth > maxDepth) return `${name}: nested deeper than ${maxDepth} levels (the limit)`;
    if (Array.isArray(item.value)) {
      for (let k = item.value.length - 1; k >= 0; k--) stack.push({ value: item.value[k], path: `${item.path}[${k}]`, depth });
      continue;
    }
    const entries = Object.entries(item.value as Record<string, unknown>);
    for (let k = entries.length - 1; k >= 0; k--) {
      const [key, child] = entries[k]!;
      if (key.includes(NUL)) return `${item.path}: a key contains a NUL character (U+0000), which cannot be stored`;
      stack.push({ value: child, path: `${item.path}.${key}`, depth });
    }
  }
  return null;
}
