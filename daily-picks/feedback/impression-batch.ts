/**
 * The impression log's batches: served responses (the cached value's bytes or the view) expanded
 * into the column arrays of one insert — a row per member and row, the row's class ids joined —
 * and the row bits the in-memory dedupe works with.
 */
import type { CachedMemberPicks } from '../picks-cache.ts';
import type { MemberPicksView } from '../picks-reader.ts';
import { ROW_NAMES } from '../rows/row-specs.ts';

/** One bit per row name; `ranked` is a candidate list, not shown as such: exposures only, no impressions. */
export const ROW_BIT = new Map<string, number>(ROW_NAMES.map((row, i) => [row, 1 << i]));
export const ALL_ROWS = (1 << ROW_NAMES.length) - 1;
const RANKED_BIT = ROW_BIT.get('ranked') ?? 0;
const IMPRESSION_ROWS = ALL_ROWS & ~RANKED_BIT;

/**
 * Class ids of a row travel to PostgreSQL as one string, split there: one array element per row
 * instead of per pick. The separator is a control character, which no source id may contain.
 */
export const SEPARATOR = '\u001f';

/** A served response waiting to be written. */
export interface Entry {
  memberId: string;
  publicationId: number | null;
  servedMs: number;
  picks: Buffer | MemberPicksView;
  /** Rows (ROW_BIT) of this response not logged before. */
  mask: number;
}

interface Row {
  row: string;
  classIds: string[];
  experiment?: { key: string; variant: string } | undefined;
}

const RANKED_ROW = Buffer.from(',{"row":"ranked"');
const ANY_ROW = Buffer.from('{"row":"');
const EXPERIMENT = Buffer.from('"experiment":');

/**
 * A cached value, parsed. The last row, `ranked` (100 picks against the named rows' 30), is cut
 * off unseen when nothing of it is needed: it logs no impressions, and an exposure only when an
 * experiment ranked it and the response included it. The byte patterns are structural: inside
 * a JSON string a quote is escaped, so `{"row":"` cannot occur there.
 */
function parseCached(value: Buffer, mask: number): CachedMemberPicks {
  const ranked = value.indexOf(RANKED_ROW);
  const cut =
    ranked >= 0 &&
    value.indexOf(ANY_ROW, ranked + RANKED_ROW.length) < 0 &&
    ((mask & RANKED_BIT) === 0 || value.indexOf(EXPERIMENT, ranked) < 0);
  if (cut) {
    try {
      return JSON.parse(`${value.toString('utf8', 0, ranked)}]}`) as CachedMemberPicks;
    } catch {
      // not laid out as publish writes it: read it whole
    }
  }
  return JSON.parse(value.toString('utf8')) as CachedMemberPicks;
}

/** The rows of a served response: a cached value (JSON bytes) or a view. */
function rowsOf(picks: Buffer | MemberPicksView, mask: number): { modelVersion: string | null; rows: Row[] } {
  if (Buffer.isBuffer(picks)) {
    const cached = parseCached(picks, mask);
    return { modelVersion: cached.modelVersion, rows: cached.rows.map((r) => ({ row: r.row, classIds: r.picks.map((p) => p[0]), experiment: r.experiment })) };
  }
  return { modelVersion: picks.modelVersion, rows: picks.rows.map((r) => ({ row: r.row, classIds: r.picks.map((p) => p.classId), experiment: r.experiment })) };
}

/** Column arrays of one insert statement. */
export class Batch {
  readonly impressions = { servedS: [] as number[], member: [] as string[], row: [] as string[], classes: [] as string[], publication: [] as (number | null)[], version: [] as (string | null)[], key: [] as (string | null)[], variant: [] as (string | null)[] };
  readonly exposures = { key: [] as string[], member: [] as string[], variant: [] as string[], exposedS: [] as number[], publication: [] as (number | null)[] };
  minMs = Number.POSITIVE_INFINITY;
  maxMs = Number.NEGATIVE_INFINITY;

  add(entry: Entry): void {
    const { modelVersion, rows } = rowsOf(entry.picks, entry.mask);
    const servedS = entry.servedMs / 1000;
    let exposed: Set<string> | null = null;
    for (const r of rows) {
      const bit = ROW_BIT.get(r.row) ?? 0;
      if ((entry.mask & bit) === 0) continue;
      if (r.experiment && !exposed?.has(r.experiment.key)) {
        (exposed ??= new Set()).add(r.experiment.key);
        const e = this.exposures;
        e.key.push(r.experiment.key);
        e.member.push(entry.memberId);
        e.variant.push(r.experiment.variant);
        e.exposedS.push(servedS);
        e.publication.push(entry.publicationId);
      }
      if ((IMPRESSION_ROWS & bit) === 0 || r.classIds.length === 0 || r.classIds.some((id) => id.includes(SEPARATOR))) continue;
      const i = this.impressions;
      i.servedS.push(servedS);
      i.member.push(entry.memberId);
      i.row.push(r.row);
      i.classes.push(r.classIds.join(SEPARATOR));
      i.publication.push(entry.publicationId);
      i.version.push(modelVersion);
      i.key.push(r.experiment?.key ?? null);
      i.variant.push(r.experiment?.variant ?? null);
    }
    this.minMs = Math.min(this.minMs, entry.servedMs);
    this.maxMs = Math.max(this.maxMs, entry.servedMs);
  }
}
