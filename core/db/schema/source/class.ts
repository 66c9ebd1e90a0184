import { boolean, index, integer, text, timestamp } from 'drizzle-orm/pg-core';
import { sourceSchema } from './schema.ts';

/** A class in the catalogue (an imported "item"). Features other than the id may be unknown. */
export const classes = sourceSchema.table(
  'class',
  {
    classId: text('class_id').primaryKey(),
    title: text('title').notNull(),
    /** cycling, running, strength, yoga, meditation, stretching, walking, rowing, … (an item's category). */
    discipline: text('discipline'),
    durationMin: integer('duration_min'),
    instructorId: text('instructor_id'),
    language: text('language'),
    /** beginner | intermediate | advanced */
    difficulty: text('difficulty'),
    /** When it first aired; null for imported items without a date. */
    airedAt: timestamp('aired_at', { withTimezone: true, mode: 'date' }),
    /** A special best taken live (an anniversary ride): not recommended after its air week. */
    isEncore: boolean('is_encore').notNull().default(false),
  },
  (table) => [index('class_aired_at_idx').on(table.airedAt)],
);

export type ClassRow = typeof classes.$inferSelect;
