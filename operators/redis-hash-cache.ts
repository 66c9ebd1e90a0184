/**
 * A generational Redis hash cache: each published generation (a publication, a batch, a model
 * version) fills a hash of its own, and a pointer key names the generation readers use. The
 * switch is one SET of the pointer; a reader that read the old pointer still finds the old
 * hash, so only generations older than the previous one should be dropped.
 *
 * ```ts
 * const cache = new RedisHashCache(redis, hashCacheKeys('shop:recs'));
 * await cache.clear(batchId);                        // a retried fill starts over
 * for await (const group of groupsOfProducts()) await cache.write(batchId, group.map((p) => [p.id, JSON.stringify(p.recs)]));
 * await cache.setMeta(batchId, { builtAt: new Date().toISOString() });
 * await cache.point(batchId);                        // readers switch here
 * await cache.drop(olderBatchIds);                   // keep the current and the previous
 * const recs = await cache.get('sku-42');            // a reader: the pointer, then the field
 * ```
 */
import type { Redis } from 'ioredis';

/** A generation's id as it appears in keys and in the pointer. */
export type Generation = number | string;

/** The keys of a generational hash cache. */
export interface HashCacheKeys {
  /** String: the generation readers use. */
  readonly current: string;
  /** Hash: field → value, one per generation. */
  hash(generation: Generation): string;
  /** String: JSON describing one generation. */
  meta(generation: Generation): string;
}

/** Keys `<prefix>:current`, `<prefix>:gen:<generation>:hash` and `<prefix>:gen:<generation>:meta`. */
export function hashCacheKeys(prefix: string): HashCacheKeys {
  return {
    current: `${prefix}:current`,
    hash: (generation) => `${prefix}:gen:${generation}:hash`,
    meta: (generation) => `${prefix}:gen:${generation}:meta`,
  };
}

/** One cache entry: a hash field and its value. */
export type HashEntry = readonly [field: string, value: string | Buffer];

export class RedisHashCache<K extends HashCacheKeys = HashCacheKeys> {
  constructor(
    readonly redis: Redis,
    readonly keys: K,
  ) {}

  /** Writes entries into a generation's hash in one pipelined round trip; returns how many. */
  async write(generation: Generation, entries: Iterable<HashEntry>): Promise<number> {
    const key = this.keys.hash(generation);
    const pipeline = this.redis.pipeline();
    let n = 0;
    for (const [field, value] of entries) {
      pipeline.hset(key, field, value);
      n += 1;
    }
    if (n > 0) {
      // exec() resolves with each command's error rather than rejecting: the first one fails the write.
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    }
    return n;
  }

  /** Writes batches of entries (`write` for each); returns how many. */
  async fill(generation: Generation, batches: AsyncIterable<Iterable<HashEntry>> | Iterable<Iterable<HashEntry>>): Promise<number> {
    let n = 0;
    for await (const batch of batches) n += await this.write(generation, batch);
    return n;
  }

  /** Stores a generation's description (JSON). */
  async setMeta(generation: Generation, meta: unknown): Promise<void> {
    await this.redis.set(this.keys.meta(generation), JSON.stringify(meta));
  }

  /** A generation's description, or null when it has none. */
  async getMeta<T>(generation: Generation): Promise<T | null> {
    const raw = await this.redis.get(this.keys.meta(generation));
    return raw === null ? null : (JSON.parse(raw) as T);
  }

  /** Whether a generation's hash exists (Redis drops an empty hash, and a restart may lose it). */
  async has(generation: Generation): Promise<boolean> {
    return (await this.redis.exists(this.keys.hash(generation))) === 1;
  }

  /** Empties a generation's hash (its description stays), e.g. before filling it again. */
  async clear(generation: Generation): Promise<void> {
    await this.redis.unlink(this.keys.hash(generation));
  }

  /** Points readers at a generation. */
  async point(generation: Generation): Promise<void> {
    await this.redis.set(this.keys.current, String(generation));
  }

  /** Points readers at no generation: they then read from wherever the data lives otherwise. */
  async unpoint(): Promise<void> {
    await this.redis.del(this.keys.current);
  }

  /** The generation readers use, or null. */
  async current(): Promise<string | null> {
    return this.redis.get(this.keys.current);
  }

  /** Deletes generations: their hashes and descriptions. */
  async drop(generations: Iterable<Generation>): Promise<void> {
    const keys = [...generations].flatMap((g) => [this.keys.hash(g), this.keys.meta(g)]);
    if (keys.length > 0) await this.redis.unlink(...keys);
  }

  /** A reader's lookup: the field in the current generation, or null (no generation, or no such field). */
  async get(field: string): Promise<string | null> {
    const generation = await this.current();
    return generation === null ? null : this.redis.hget(this.keys.hash(generation), field);
  }
}
