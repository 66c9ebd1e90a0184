/**
 * The generative model behind `flywheel seed`: a catalogue of classes and a population of
 * members with stable tastes (and a little drift), simulated day by day into workouts.
 * Pure and deterministic: no I/O, no wall clock, every random draw comes from a PRNG seeded
 * from the seed and the entity's index, so a member's workouts do not depend on chunking.
 * See daily-picks/source/README.md for the model in prose.
 */
export * from './seed-model/platform.ts';
export * from './seed-model/catalogue.ts';
export * from './seed-model/members.ts';
export * from './seed-model/workouts.ts';
export * from './seed-model/affinity.ts';
