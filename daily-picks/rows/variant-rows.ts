/**
 * The rows of members in live experiments. A member's rows that an experiment covers come from
 * their variant's ranking and carry the variant; their other rows are cut from the ranking they
 * would get without experiments (the default), less the classes the variant rows already show.
 *
 * What ranks a variant: `model` — the default ranking itself (the serving plan's, falling back
 * to the heuristics and popularity as always); `model_ignore_aware` — the same with the ignore
 * discount applied before cutting; `heuristics` — the heuristics' ranking; a model version — its
 * ranking by the rank shards (its plan; the heuristics for members its plan gives them). Members
 * without history get popular classes whatever their variant (the variant is still recorded).
 *
 * Rows stream: the heuristics' and versions' rankings are read first, keeping only the cut rows
 * of the members whose variant needs them (a RowStore); the default pass then merges.
 */
import type { Database } from '../../core/db/client.ts';
import type { Catalogue } from '../../model/data/catalogue.ts';
import type { History } from '../../model/data/history.ts';
import { loadIgnoredPicks, type IgnoredPicks } from '../feedback/ignored.ts';
import type { IgnoreAwareOptions } from '../options.ts';
import type { PicksRow } from '../picks-file.ts';
import { readRanking } from '../ranking-file.ts';
import type { CutRow } from './cut-rows.ts';
import { ExperimentRows, RowStore, variantSource, type ExperimentCounts, type RowAssignment, type VariantSource } from './experiment-rows.ts';
import { discountedScore, discountIgnored, inCooldown, isResting } from './ignore-discount.ts';
import type { MemberCut, RowCutter } from './member-cutter.ts';
import { ROW_NAMES } from './row-specs.ts';

/** A ranking file and whether its picks are popularity's (cut as for a member without history). */
export interface RankingSource {
  file: string;
  popularity: boolean;
}

export interface VariantRowsInput {
  catalogue: Catalogue;
  history: History;
  /** The run's data clock (epoch ms): the end of the ignore window. */
  asOf: number;
  cutter: RowCutter;
  experiments: ExperimentRows;
  /** The heuristics' ranking. */
  heuristicsFile: string;
  /** Per model version the rank shards ranked for an experiment: its files, in order. */
  versions: ReadonlyMap<string, RankingSource[]>;
  ignoreAware: IgnoreAwareOptions;
  db: Database;
  log: (message: string) => void;
  signal?: AbortSignal;
}

const HEURISTICS = 'heuristics';
const ROW_ORDER: readonly string[] = ROW_NAMES;

export class VariantRows {
  private constructor(
    private readonly input: VariantRowsInput,
    /** Variant key → what ranks it (a version that could not rank resolved to `model`). */
    private readonly resolved: ReadonlyMap<string, VariantSource>,
    /** Rows from `heuristics` and from each version, of the members whose variant needs them. */
    private readonly stores: ReadonlyMap<string, RowStore>,
    private readonly ignored: IgnoredPicks,
  ) {}

  /** Resolves the variants, loads the ignored picks when a variant needs them, and reads the variants' rankings. */
  static async prepare(input: VariantRowsInput): Promise<VariantRows> {
    const { experiments, history, log } = input;
    const resolved = new Map<string, VariantSource>();
    for (const variant of experiments.variants()) {
      const source = variantSource(variant);
      if (typeof source === 'object' && !input.versions.has(source.version)) {
        log(`warning: variant ${variant}: the rank shards have no ranking by model version ${variant} this run (see their logs); its members get the model's rows`);
        resolved.set(variant, 'model');
      } else resolved.set(variant, source);
    }
    const stores = new Map<string, RowStore>();
    const wanted = [...resolved.values()];
    if (wanted.includes('heuristics') || wanted.some((s) => typeof s === 'object')) stores.set(HEURISTICS, new RowStore());
    for (const source of wanted) if (typeof source === 'object') stores.set(source.version, new RowStore());

    let ignored: IgnoredPicks = new Map();
    if (wanted.includes('model_ignore_aware')) {
      const members: string[] = [];
      for (let m = 0; m < history.memberCount; m++) if (experiments.assign(history.memberIds[m]!).some((a) => resolved.get(a.variant) === 'model_ignore_aware')) members.push(history.memberIds[m]!);
      const { windowDays } = input.ignoreAware;
      ignored = await loadIgnoredPicks(input.db, { until: new Date(input.asOf), windowDays, members });
      let classes = 0;
      for (const byClass of ignored.values()) classes += byClass.size;
      log(`ignore-aware: ${ignored.size} of ${members.length} members have ${classes} classes ignored in the ${windowDays} days before ${new Date(input.asOf).toISOString()}`);
    }
    const rows = new VariantRows(input, resolved, stores, ignored);
    // The versions first: a member their rankings leave out falls back to the heuristics' rows.
    for (const [version, files] of input.versions) {
      const store = stores.get(version);
      if (!store) continue;
      for (const { file, popularity } of files) await rows.storeFrom(file, popularity, store, (a) => isVersion(resolved.get(a.variant), version));
    }
    const heuristics = stores.get(HEURISTICS);
    if (heuristics) {
      await rows.storeFrom(input.heuristicsFile, false, heuristics, (a, m) => {
        const source = resolved.get(a.variant);
        return source === 'heuristics' || (typeof source === 'object' && !stores.get(source.version)!.has(m));
      });
    }
    return rows;
  }

  /** Streams a ranking, keeping the experiment rows of the members `needs` says it ranks for. */
  private async storeFrom(file: string, popularity: boolean, store: RowStore, needs: (a: RowAssignment, m: number) => boolean): Promise<void> {
    const { history, cutter, experiments } = this.input;
    for await (const batch of readRanking(file)) {
      this.input.signal?.throwIfAborted();
      for (let i = 0; i < batch.memberIds.length; i++) {
        const m = history.memberIndex.get(batch.memberIds[i]!);
        if (m === undefined || store.has(m) || !experiments.assign(batch.memberIds[i]!).some((a) => needs(a, m))) continue;
        const from = batch.offsets[i]!;
        const to = batch.offsets[i + 1]!;
        const rows = cutter.forMember(m, popularity).cut(batch.classIdx.subarray(from, to), batch.scores.subarray(from, to));
        store.put(m, rows.filter((row) => experiments.rows.has(row.row)));
      }
    }
  }

  /**
   * Member `m`'s rows: each experiment's rows from the member's variant (tagged), the others cut
   * from the default ranking (`candidates`, `scores`) as `member` cuts it. A class a variant row
   * shows is not offered by the default's named rows, so no class shows in two named rows.
   */
  rowsOf(m: number, member: MemberCut, candidates: ArrayLike<number>, scores: ArrayLike<number>): PicksRow[] {
    const { history, experiments } = this.input;
    const memberId = history.memberIds[m]!;
    const assignments = experiments.assign(memberId, true);
    const { start, end } = history.workoutsOf(m);
    const hasHistory = end > start;
    const cuts: { default: CutRow[] | null } = { default: null };
    const fromDefault = () => (cuts.default ??= member.cut(candidates, scores));
    const tagged: PicksRow[] = [];
    const claimed = new Set<number>();
    const skip = new Set<string>();
    let recut = false;
    for (const a of assignments) {
      // Without history a member gets popular classes whatever the variant.
      const source = hasHistory ? this.resolved.get(a.variant)! : 'model';
      let rows: CutRow[];
      if (source === 'model') rows = fromDefault();
      else if (source === 'model_ignore_aware') rows = this.ignoreAware(memberId, member, candidates, scores);
      else if (source === 'heuristics') rows = this.stores.get(HEURISTICS)!.get(m) ?? fromDefault();
      else rows = this.stores.get(source.version)!.get(m) ?? this.stores.get(HEURISTICS)!.get(m) ?? fromDefault();
      for (const row of rows) {
        if (!a.rows.has(row.row)) continue;
        tagged.push({ ...row, experiment: { key: a.key, variant: a.variant } });
        if (row.row !== 'ranked') for (const pick of row.picks) claimed.add(pick.classIdx);
      }
      for (const row of a.rows) skip.add(row);
      recut ||= rows !== cuts.default;
    }
    // Rows from the default cut alone leave the member's other rows as they were; rows from
    // another ranking claim their classes (as do the default's experiment rows, as they did in
    // the default cut), so the other rows are cut again without them.
    const rest = recut ? member.cut(candidates, scores, { skip, claimed }) : fromDefault().filter((row) => !skip.has(row.row));
    return [...rest, ...tagged].sort((a, b) => ROW_ORDER.indexOf(a.row) - ROW_ORDER.indexOf(b.row));
  }

  /** The default ranking with the ignore discount: ignored classes score less, those in cooldown are left out. */
  private ignoreAware(memberId: string, member: MemberCut, candidates: ArrayLike<number>, scores: ArrayLike<number>): CutRow[] {
    const byClass = this.ignored.get(memberId);
    if (!byClass) return member.cut(candidates, scores);
    const { classIds } = this.input.catalogue;
    const options = this.input.ignoreAware;
    const days = (c: number) => byClass.get(classIds[c]!)?.days ?? 0;
    const resting = (c: number) => {
      const ignored = byClass.get(classIds[c]!);
      return ignored !== undefined && isResting(ignored.lastShownAt, this.input.asOf, options.restDays);
    };
    const discounted = discountIgnored({ candidates, scores }, days, options, resting);
    return member.cut(discounted.candidates, discounted.scores, {
      exclude: (row, c) => inCooldown(row, days(c), options, resting(c)),
      adjustFill: (c, score) => discountedScore(score, days(c), options.gamma),
    });
  }

  summary(): ExperimentCounts[] {
    return this.input.experiments.summary();
  }
}

function isVersion(source: VariantSource | undefined, version: string): boolean {
  return typeof source === 'object' && source.version === version;
}
