/** The longest member, class or instructor id the source, the pipeline and the API accept. */
export const SOURCE_ID_MAX_LENGTH = 256;

const CONTROL = /\p{Cc}/u;

/**
 * Why `id` cannot be a source id, or null when it can: 1–256 characters, no control
 * characters. Ids are kept exactly as given (no trimming): " 015 " and "015" are two ids.
 */
export function sourceIdProblem(id: string): string | null {
  if (id.length === 0) return 'is empty';
  if (id.length > SOURCE_ID_MAX_LENGTH) return `is ${id.length} characters long (at most ${SOURCE_ID_MAX_LENGTH})`;
  if (CONTROL.test(id)) return 'contains a control character';
  return null;
}
