import { bigserial, index, real, text, timestamp } from 'drizzle-orm/pg-core';
import { sourceSchema } from './schema.ts';

/** A member took a class (an imported interaction). */
export const workouts = sourceSchema.table(
  'workout',
  {
    workoutId: bigserial('workout_id', { mode: 'number' }).primaryKey(),
    memberId: text('member_id').notNull(),
    classId: text('class_id').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** Share of the class completed, 0–1; null when the source does not say. */
    completion: real('completion'),
  },
  (table) => [
    // Extract reads by data interval; heuristics and cold-start checks read per member.
    index('workout_started_at_idx').on(table.startedAt),
    index('workout_member_id_started_at_idx').on(table.memberId, table.startedAt),
  ],
);

export type WorkoutRow = typeof workouts.$inferSelect;
