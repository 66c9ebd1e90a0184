/**
 * What the picks API served, written to `feedback.impression` (and the first exposure of a member
 * to an experiment to `feedback.exposure`) in batches, off the response path. `served` only
 * remembers the response (the cached bytes as Redis returned them, or the view) after an
 * in-memory dedupe; the flush parses, expands rows into impressions and writes them with one
 * `insert … select … from unnest(…)` per batch. Logging never fails or slows a response: a failed
 * write is counted and logged, and a full buffer drops what comes next.
 */
import { sql } from 'drizzle-orm';
import type { Database } from '../../core/db/client.ts';
import type { Logger } from '../../core/logger.ts';
import type { MemberPicksView } from '../picks-reader.ts';
import { ALL_ROWS, Batch, ROW_BIT, SEPARATOR, type Entry } from './impression-batch.ts';
import { DAY_MS, utcDay } from '../../model/data/time.ts';
import { ensureFeedbackPartitions } from './partitions.ts';

/** Responses parsed between two turns of the event loop (each ~10–40 µs). */
const PARSE_SLICE = 32;

export interface ImpressionLogOptions {
  db: Database;
  /**
   * The time an impression is served at (and the day it is stored under): a simulation serves
   * simulated days.
   * @defaultValue () => new Date()
   */
  clock?: () => Date;
  /**
   * How long a served response may wait in memory before it is written.
   * @defaultValue 1000
   */
  flushMs?: number;
  /**
   * Responses per insert statement; a buffer this long is written at once, without waiting for
   * `flushMs`.
   * @defaultValue 1000
   */
  batchSize?: number;
  /**
   * Responses held while a write is in flight (each holds its cached value, ~10 kB); past it new
   * ones are dropped (and counted), so a slow database never grows the server's memory without bound.
   * @defaultValue 10000
   */
  maxBuffered?: number;
  /**
   * Members remembered as logged, per publication, for the current day; past it that
   * publication's memory is cleared (the primary key still keeps repeats out of the table).
   * @defaultValue 1000000
   */
  maxRemembered?: number;
  /**
   * Where failed writes are reported: `warn` at the first failure of an outage (the next ones are
   * only counted, not logged per flush), `info` with the responses lost once a write succeeds again.
   * @defaultValue none
   */
  logger?: Pick<Logger, 'warn' | 'info'>;
  /** Called with the error of each failed write. @defaultValue none */
  onError?: (error: unknown) => void;
}

/** Counters since the log was made. */
export interface ImpressionLogStats {
  /** Responses handed to `served`. */
  served: number;
  /** Responses whose rows were already logged for this member, publication and day. */
  deduped: number;
  /** Responses written. */
  logged: number;
  /** Impression rows inserted (new ones; repeats are kept out by the primary key). */
  impressions: number;
  /** Exposure rows inserted (a member's first row of an experiment). */
  exposures: number;
  /** Responses dropped because the buffer was full (or the log closed). */
  dropped: number;
  /** Responses whose write failed. */
  failed: number;
}

/**
 * The picks API's impression log. `served` is O(1) and allocation-light; writes happen on a timer
 * (`flushMs`, unref'd: it keeps no process alive), when `batchSize` responses are buffered, and on
 * `flush()` / `close()`.
 */
export class ImpressionLog {
  readonly stats: ImpressionLogStats = { served: 0, deduped: 0, logged: 0, impressions: 0, exposures: 0, dropped: 0, failed: 0 };
  private readonly clock: () => Date;
  private readonly flushMs: number;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly maxRemembered: number;
  private buffer: Entry[] = [];
  /**
   * publication → member → rows (ROW_BIT) logged on `seenDay`. The last few publications: the
   * cache path and a fallback path (PostgreSQL, popular rows without a pointer) may name
   * different ones at once, and must not wipe each other's memory.
   */
  private readonly seen = new Map<number | null, Map<string, number>>();
  private seenDay = Number.NaN;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private closed = false;
  /** Responses whose write failed since the last write that succeeded (> 0: an outage is on, and was logged). */
  private lostInOutage = 0;

  constructor(private readonly options: ImpressionLogOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.flushMs = options.flushMs ?? 1000;
    this.batchSize = options.batchSize ?? 1000;
    this.maxBuffered = options.maxBuffered ?? 10_000;
    this.maxRemembered = options.maxRemembered ?? 1_000_000;
  }

  /**
   * A response was sent: `picks` is the cached value's bytes or the view, `rows` the rows filter
   * of the request (all rows when absent). Never throws.
   */
  served(memberId: string, publicationId: number | null, picks: Buffer | MemberPicksView, rows?: ReadonlySet<string>): void {
    this.stats.served++;
    if (this.closed) {
      this.stats.dropped++;
      return;
    }
    const servedMs = this.clock().getTime();
    const day = Math.floor(servedMs / DAY_MS);
    // An impression is a class shown at a place on a day: a new publication or a new day starts over.
    if (day !== this.seenDay) {
      this.seen.clear();
      this.seenDay = day;
    }
    let seen = this.seen.get(publicationId);
    if (!seen || seen.size >= this.maxRemembered) {
      this.seen.delete(publicationId);
      this.seen.set(publicationId, (seen = new Map<string, number>()));
      // The oldest publication's memory goes (a Map iterates in insertion order).
      if (this.seen.size > 3) this.seen.delete(this.seen.keys().next().value!);
    }
    let wanted = ALL_ROWS;
    if (rows) {
      wanted = 0;
      for (const row of rows) wanted |= ROW_BIT.get(row) ?? 0;
    }
    const logged = seen.get(memberId) ?? 0;
    const mask = wanted & ~logged;
    if (mask === 0) {
      this.stats.deduped++;
      return;
    }
    if (this.buffer.length >= this.maxBuffered) {
      this.stats.dropped++;
      return;
    }
    seen.set(memberId, logged | wanted);
    this.buffer.push({ memberId, publicationId, servedMs, picks, mask });
    if (this.buffer.length >= this.batchSize && this.flushing === null) void this.flush();
    else this.schedule();
  }

  /** Writes everything buffered so far (waiting for a write in flight first); never rejects. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.buffer.length === 0) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = null;
    });
    await this.flushing;
    // Responses that arrived meanwhile: at once when a batch is full, else after flushMs.
    if (this.buffer.length >= this.batchSize) void this.flush();
    else this.schedule();
  }

  /** Stops taking responses and writes what is buffered. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }

  private schedule(): void {
    if (this.timer || this.closed || this.buffer.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.flushMs);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const taken = this.buffer;
    this.buffer = [];
    for (let start = 0; start < taken.length; start += this.batchSize) {
      const batch = new Batch();
      let added = 0;
      for (let k = start; k < Math.min(start + this.batchSize, taken.length); k++) {
        // Parsing a batch takes tens of milliseconds: in slices, between which requests are served.
        if ((k - start) % PARSE_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
        try {
          batch.add(taken[k]!);
          added++;
        } catch (error) {
          // A value that does not parse: that response is lost, not its batch.
          this.stats.failed++;
          this.options.logger?.warn({ err: error, responses: 1 }, 'impression log: a served value did not parse; its impressions are lost');
          this.options.onError?.(error);
        }
      }
      if (added === 0) continue;
      try {
        const { impressions, exposures } = await this.write(batch);
        this.stats.logged += added;
        this.stats.impressions += impressions;
        this.stats.exposures += exposures;
        if (this.lostInOutage > 0) {
          this.options.logger?.info({ responses: this.lostInOutage }, 'impression log: writes succeed again; the impressions of these responses were lost');
          this.lostInOutage = 0;
        }
      } catch (error) {
        this.failed(error, added);
      }
    }
  }

  /** A write failed: logged once per outage (PostgreSQL down fails every flush, once a second), counted always. */
  private failed(error: unknown, responses: number): void {
    this.stats.failed += responses;
    if (this.lostInOutage === 0) {
      this.options.logger?.warn({ err: error, responses }, 'impression log: a write failed; its impressions are lost (until a write succeeds, further failures are counted, not logged)');
    }
    this.lostInOutage += responses;
    this.options.onError?.(error);
  }

  private async write(batch: Batch): Promise<{ impressions: number; exposures: number }> {
    const i = batch.impressions;
    const e = batch.exposures;
    if (i.member.length === 0 && e.member.length === 0) return { impressions: 0, exposures: 0 };
    await ensureFeedbackPartitions(this.options.db, utcDay(batch.minMs), utcDay(batch.maxMs));
    // One statement: exposures and impressions land together or not at all.
    const result = await this.options.db.execute<{ impressions: number; exposures: number }>(sql`
      with x as (
        insert into feedback.exposure (experiment_key, member_id, variant, exposed_at, publication_id)
        select k, m, v, to_timestamp(s), p
        from unnest(${sql.param(e.key)}::text[], ${sql.param(e.member)}::text[], ${sql.param(e.variant)}::text[], ${sql.param(e.exposedS)}::float8[], ${sql.param(e.publication)}::bigint[]) as u(k, m, v, s, p)
        on conflict do nothing
        returning 1
      ), i as (
        insert into feedback.impression (day, served_at, member_id, row, position, class_id, publication_id, model_version, experiment_key, variant, source)
        select (to_timestamp(u.s) at time zone 'UTC')::date, to_timestamp(u.s), u.m, u.r, c.pos::int, c.cls, u.p, u.mv, u.k, u.v, 'api'
        from unnest(${sql.param(i.servedS)}::float8[], ${sql.param(i.member)}::text[], ${sql.param(i.row)}::text[], ${sql.param(i.classes)}::text[],
                    ${sql.param(i.publication)}::bigint[], ${sql.param(i.version)}::text[], ${sql.param(i.key)}::text[], ${sql.param(i.variant)}::text[]) as u(s, m, r, cs, p, mv, k, v)
        cross join lateral unnest(string_to_array(u.cs, ${SEPARATOR})) with ordinality as c(cls, pos)
        on conflict do nothing
        returning 1
      )
      select (select count(*) from i)::int as impressions, (select count(*) from x)::int as exposures`);
    const counts = result.rows[0]!;
    return { impressions: Number(counts.impressions), exposures: Number(counts.exposures) };
  }
}
