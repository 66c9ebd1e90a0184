/**
 * Ignored picks: the classes a member was shown and did not take, counted in days. The
 * `model_ignore_aware` variant discounts them (daily-picks/rows/ignore-discount.ts).
 */
import { sql } from 'drizzle-orm';
import type { Database } from '../../core/db/client.ts';
import { DAY_MS, utcDay } from '../../model/data/time.ts';
import { NAMED_ROW_NAMES } from '../rows/row-specs.ts';

/** A class a member was shown and did not take: on how many distinct days, and when last. */
export interface IgnoredClass {
  days: number;
  /** The last time it was shown (epoch ms). */
  lastShownAt: number;
}

/** Ignored classes per member: member id → class id → IgnoredClass. */
export type IgnoredPicks = Map<string, Map<string, IgnoredClass>>;

export interface IgnoredPicksQuery {
  /** The end of the window (exclusive): the run's data clock. */
  until: Date;
  /** Days before `until` whose impressions count. */
  windowDays: number;
  /** Only these members (those the discount applies to); all members when absent. */
  members?: readonly string[];
  /**
   * Rows whose impressions count.
   * @defaultValue the named rows (`ranked` is a candidate list, not a row a member looks through)
   */
  rows?: readonly string[];
}


/**
 * Per member, each class shown to them (feedback.impression) in `[until − windowDays, until)`
 * that they did not convert (no feedback.conversion of that class by that member started in the
 * window, before `until`), with the number of distinct UTC days it was shown: a member who opened
 * the app three times on one day ignored it once. `lastShownAt` tells the rest period (`restDays`). Impressions and conversions are read by their
 * `day` too, so only the window's partitions are scanned.
 */
export async function loadIgnoredPicks(db: Database, query: IgnoredPicksQuery): Promise<IgnoredPicks> {
  const until = query.until;
  const from = new Date(until.getTime() - query.windowDays * DAY_MS);
  const fromDay = utcDay(from);
  const untilDay = utcDay(until);
  const out: IgnoredPicks = new Map();
  if (query.members && query.members.length === 0) return out;
  const rows = [...(query.rows ?? NAMED_ROW_NAMES)];
  const members = query.members ? sql`and i.member_id = any(${sql.param([...query.members])}::text[])` : sql``;
  const result = await db.execute<{ member_id: string; class_id: string; days: number; last_ms: number }>(sql`
    select i.member_id, i.class_id, count(distinct i.day)::int as days, (extract(epoch from max(i.served_at)) * 1000)::float8 as last_ms
    from feedback.impression i
    where i.day >= ${fromDay}::date and i.day <= ${untilDay}::date
      and i.served_at >= ${from.toISOString()}::timestamptz and i.served_at < ${until.toISOString()}::timestamptz
      and i.row = any(${sql.param(rows)}::text[])
      ${members}
      and not exists (
        select 1 from feedback.conversion c
        where c.member_id = i.member_id and c.class_id = i.class_id
          and c.day >= ${fromDay}::date and c.day <= ${untilDay}::date
          and c.started_at >= ${from.toISOString()}::timestamptz and c.started_at < ${until.toISOString()}::timestamptz)
    group by i.member_id, i.class_id`);
  for (const r of result.rows) {
    let classes = out.get(r.member_id);
    if (!classes) out.set(r.member_id, (classes = new Map<string, IgnoredClass>()));
    classes.set(r.class_id, { days: Number(r.days), lastShownAt: Number(r.last_ms) });
  }
  return out;
}
