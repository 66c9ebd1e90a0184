import { pgSchema } from 'drizzle-orm/pg-core';

/** PostgreSQL schema `source`: the platform data Daily Picks reads. */
export const sourceSchema = pgSchema('source');
