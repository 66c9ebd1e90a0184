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

/** A member's rows as cached: picks as `[classId, score, reason]`. */
export interface CachedMemberPicks {
  modelVersion: string;
  generatedAt: string;
  rows: { row: string; picks: [classId: string, score: number, reason: string][] }[];
}

export interface CachedPublicationMeta {
  publicationId: number;
  runId: string;
  modelVersion: string;
  generatedAt: string;
  popularRows: { row: string; picks: { classId: string; score: number; reason: string }[] }[];
}
