import { TaskOutputNotJsonError, XComTooLargeError } from '../sdk/errors.ts';
import type { JsonValue } from '../sdk/json.ts';

/** Checks a task's return value is JSON within the XCom cap; `undefined` becomes `null`. */
export function toXCom(taskId: string, value: unknown, maxBytes: number): JsonValue {
  if (value === undefined) return null;
  const problem = findNonJson(value, 'output', new Set());
  if (problem) throw new TaskOutputNotJsonError(taskId, problem);
  const text = JSON.stringify(value);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) throw new XComTooLargeError(taskId, bytes, maxBytes);
  return value as JsonValue;
}

function findNonJson(value: unknown, path: string, seen: Set<object>): string | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `${path} is ${value}`;
    case 'object': {
      if (value === null) return null;
      if (seen.has(value)) return `${path} is a circular reference`;
      seen.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i += 1) {
          const found = findNonJson(value[i], `${path}[${i}]`, seen);
          if (found) return found;
        }
      } else {
        const proto: unknown = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) return `${path} is a ${value.constructor?.name ?? 'non-plain object'}, not a plain object`;
        for (const [key, item] of Object.entries(value)) {
          const found = findNonJson(item, `${path}.${key}`, seen);
          if (found) return found;
        }
      }
      seen.delete(value);
      return null;
    }
    default:
      return `${path} is a ${typeof value}`;
  }
}
