import type { Generation, HashCacheKeys } from '../operators/redis-hash-cache.ts';

/**
 * Redis layout of the serving cache, shared by publish (writer, through RedisHashCache) and
 * the picks API (reader). Each publication has its own hash (field = member id), so a swap is
 * one SET of the pointer, and a reader that read the old pointer still finds the old hash:
 * only publications older than `previous` are deleted.
 */
export class PicksCacheKeys implements HashCacheKeys {
  constructor(readonly prefix: string) {}

  /** String: id of the publication the API serves. */
  get current(): string {
    return `${this.prefix}:picks:current`;
  }

  /** Hash member id → CachedMemberPicks JSON. */
  members(publicationId: Generation): string {
    return `${this.prefix}:picks:pub:${publicationId}:members`;
  }

  /** A publication's hash, as RedisHashCache names it: `members`. */
  hash(publicationId: Generation): string {
    return this.members(publicationId);
  }

  /** String: JSON of the publication (CachedPublicationMeta). */
  meta(publicationId: Generation): string {
    return `${this.prefix}:picks:pub:${publicationId}:meta`;
  }
}

/** The experiment and variant that ranked a row, when one did. */
export interface RowExperiment {
  key: string;
  variant: string;
}

/**
 * A member's rows as cached: picks as `[classId, score, reason]`; a row an experiment ranked
 * carries its key and the member's variant.
 */
export interface CachedMemberPicks {
  modelVersion: string;
  generatedAt: string;
  rows: { row: string; picks: [classId: string, score: number, reason: string][]; experiment?: RowExperiment }[];
}

export interface CachedPublicationMeta {
  publicationId: number;
  runId: string;
  modelVersion: string;
  generatedAt: string;
  popularRows: { row: string; picks: { classId: string; score: number; reason: string }[] }[];
}
