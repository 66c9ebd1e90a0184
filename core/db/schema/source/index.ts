/**
 * The source data Daily Picks reads: a connected-fitness platform's members, instructors,
 * classes and workouts, filled by `flywheel seed` or `flywheel import`. Ids are the
 * source's own, kept as text.
 */
export * from './schema.ts';
export * from './member.ts';
export * from './instructor.ts';
export * from './class.ts';
export * from './workout.ts';
