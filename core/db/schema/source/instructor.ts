import { text } from 'drizzle-orm/pg-core';
import { sourceSchema } from './schema.ts';

/** Who teaches a class (an imported item's "creator"). */
export const instructors = sourceSchema.table('instructor', {
  instructorId: text('instructor_id').primaryKey(),
  name: text('name').notNull(),
});

export type InstructorRow = typeof instructors.$inferSelect;
