import type { Database, Queryable } from './client.ts';

const RETRYABLE = new Set(['40P01', '40001']); // deadlock detected, serialization failure

/** Runs `work` in a transaction, retrying a few times when PostgreSQL aborts it for a deadlock. */
export async function inTransaction<T>(db: Database, work: (tx: Queryable) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await db.transaction(work);
    } catch (error) {
      const code = (error as { code?: string; cause?: { code?: string } }).code ?? (error as { cause?: { code?: string } }).cause?.code;
      if (attempt >= attempts || !code || !RETRYABLE.has(code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 10));
    }
  }
}
