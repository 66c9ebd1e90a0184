import { numberColumn, readArrowBatches, stringColumn } from './arrow-files.ts';

/** What separates the categories of a multi-valued discipline cell (`Action|Adventure`, MovieLens genres). */
export const CATEGORY_SEPARATOR = '|';

/**
 * The single categories of a discipline cell: split on `|`, trimmed, empties dropped, each once
 * (first occurrence first). `null`, `''` and `' | '` have none.
 */
export function splitCategories(cell: string | null | undefined): string[] {
  if (cell === null || cell === undefined) return [];
  const out: string[] = [];
  for (const part of cell.split(CATEGORY_SEPARATOR)) {
    const name = part.trim();
    if (name !== '' && !out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * The classes of one run (the extract step's snapshot), as columns indexed by class index.
 * Rankings refer to classes by this index. Unknown features are -1 / NaN / null.
 *
 * A class's discipline may hold several categories (`Action|Adventure`): `disciplines` lists
 * single categories only, `categoriesOf(c)` gives all of a class's, and `discipline[c]` is its
 * first (what the ranker's features use).
 */
export class Catalogue {
  readonly index = new Map<string, number>();
  /** Single category names ("Action", "Adventure"; never "Action|Adventure"). */
  readonly disciplines: string[] = [];
  readonly instructors: string[] = [];
  readonly instructorNames: string[] = [];
  /** Distinct durations in minutes, ascending. */
  readonly durations: number[];

  private constructor(
    readonly classIds: string[],
    readonly titles: string[],
    /** Index into `disciplines` of the class's first category, -1 unknown. */
    readonly discipline: Int32Array,
    /**
     * Every category of each class, as compressed sparse rows: class `c`'s are
     * `categoryIdx[categoryOffsets[c]] … categoryIdx[categoryOffsets[c + 1] - 1]` (indices into
     * `disciplines`, first = `discipline[c]`, none when unknown).
     */
    readonly categoryOffsets: Int32Array,
    readonly categoryIdx: Int32Array,
    /** Minutes, -1 unknown. */
    readonly durationMin: Int32Array,
    /** Index into `durations`, -1 unknown. */
    readonly durationIdx: Int32Array,
    /** Index into `instructors`, -1 unknown. */
    readonly instructor: Int32Array,
    readonly languages: (string | null)[],
    readonly airedAt: Float64Array,
    readonly isEncore: Uint8Array,
    disciplines: string[],
    instructors: string[],
    instructorNames: string[],
    durations: number[],
  ) {
    classIds.forEach((id, i) => this.index.set(id, i));
    this.disciplines = disciplines;
    this.instructors = instructors;
    this.instructorNames = instructorNames;
    this.durations = durations;
  }

  get size(): number {
    return this.classIds.length;
  }

  /** Class `c`'s categories (indices into `disciplines`), first one first; empty when unknown. A view: do not write. */
  categoriesOf(c: number): Int32Array {
    const from = this.categoryOffsets[c] ?? 0;
    return this.categoryIdx.subarray(from, this.categoryOffsets[c + 1] ?? from);
  }

  /** Whether any class has a known duration (rows such as quick_workout need them). */
  get hasDurations(): boolean {
    return this.durations.length > 0;
  }

  /** Whether any class has a known instructor. */
  get hasInstructors(): boolean {
    return this.instructors.length > 0;
  }

  /** Whether any class has a known air date. */
  get hasAirDates(): boolean {
    this.anyAirDate ??= this.airedAt.some((t) => !Number.isNaN(t));
    return this.anyAirDate;
  }

  private anyAirDate: boolean | undefined;

  static async load(file: string): Promise<Catalogue> {
    const ids: string[] = [];
    const titles: string[] = [];
    const disciplineNames: (string | null)[] = [];
    const durations: number[] = [];
    const instructorIds: (string | null)[] = [];
    const instructorNamesByClass: (string | null)[] = [];
    const languages: (string | null)[] = [];
    const aired: number[] = [];
    const encore: boolean[] = [];
    for await (const batch of readArrowBatches(file)) {
      ids.push(...(stringColumn(batch, 'class_id') as string[]));
      titles.push(...(stringColumn(batch, 'title') as string[]));
      disciplineNames.push(...stringColumn(batch, 'discipline'));
      durations.push(...numberColumn<Int32Array>(batch, 'duration_min'));
      instructorIds.push(...stringColumn(batch, 'instructor_id'));
      instructorNamesByClass.push(...stringColumn(batch, 'instructor_name'));
      languages.push(...stringColumn(batch, 'language'));
      aired.push(...numberColumn<Float64Array>(batch, 'aired_at'));
      const encoreColumn = batch.getChild('is_encore');
      for (let i = 0; i < batch.numRows; i++) encore.push(Boolean(encoreColumn?.get(i)));
    }
    return Catalogue.fromColumns({ ids, titles, disciplineNames, durations, instructorIds, instructorNamesByClass, languages, aired, encore });
  }

  /** Builds a catalogue from plain columns (also used to score a single member on request). */
  static fromColumns(columns: {
    ids: string[];
    titles: string[];
    disciplineNames: (string | null)[];
    durations: number[];
    instructorIds: (string | null)[];
    instructorNamesByClass: (string | null)[];
    languages: (string | null)[];
    aired: number[];
    encore: boolean[];
  }): Catalogue {
    const n = columns.ids.length;
    const disciplines: string[] = [];
    const disciplineIndex = new Map<string, number>();
    const instructors: string[] = [];
    const instructorNames: string[] = [];
    const instructorIndex = new Map<string, number>();
    // A missing duration (null, NaN, negative, zero) is unknown: -1, never a 0-minute "quick" class.
    const minutes = Int32Array.from(columns.durations, (d) => (typeof d === 'number' && Number.isFinite(d) && d > 0 ? Math.round(d) : -1));
    const distinctDurations = [...new Set(minutes.filter((d) => d >= 0))].sort((a, b) => a - b);
    const durationIndex = new Map(distinctDurations.map((d, i) => [d, i]));
    const discipline = new Int32Array(n);
    const categoryOffsets = new Int32Array(n + 1);
    const categoryIdx: number[] = [];
    const instructor = new Int32Array(n);
    const durationIdx = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const names = splitCategories(columns.disciplineNames[i]);
      for (const d of names) {
        let idx = disciplineIndex.get(d);
        if (idx === undefined) {
          idx = disciplines.length;
          disciplines.push(d);
          disciplineIndex.set(d, idx);
        }
        categoryIdx.push(idx);
      }
      categoryOffsets[i + 1] = categoryIdx.length;
      discipline[i] = names.length === 0 ? -1 : categoryIdx[categoryOffsets[i]!]!;
      const inst = columns.instructorIds[i];
      if (inst === null || inst === undefined || inst === '') instructor[i] = -1;
      else {
        let idx = instructorIndex.get(inst);
        if (idx === undefined) {
          idx = instructors.length;
          instructors.push(inst);
          instructorNames.push(columns.instructorNamesByClass[i] ?? inst);
          instructorIndex.set(inst, idx);
        }
        instructor[i] = idx;
      }
      durationIdx[i] = durationIndex.get(minutes[i]!) ?? -1;
    }
    return new Catalogue(
      columns.ids,
      columns.titles,
      discipline,
      categoryOffsets,
      Int32Array.from(categoryIdx),
      minutes,
      durationIdx,
      instructor,
      columns.languages,
      // A missing air date (null / undefined / not finite) is NaN: unknown, never "aired in 1970".
      Float64Array.from(columns.aired, (t) => (typeof t === 'number' && Number.isFinite(t) ? t : Number.NaN)),
      Uint8Array.from(columns.encore, (e) => (e ? 1 : 0)),
      disciplines,
      instructors,
      instructorNames,
      distinctDurations,
    );
  }

  /** The name of the class's first category, null when unknown. */
  disciplineName(classIdx: number): string | null {
    const d = this.discipline[classIdx]!;
    return d < 0 ? null : this.disciplines[d]!;
  }

  /** The names of all the class's categories, first one first. */
  categoryNames(classIdx: number): string[] {
    return Array.from(this.categoriesOf(classIdx), (d) => this.disciplines[d]!);
  }

  instructorName(classIdx: number): string | null {
    const i = this.instructor[classIdx]!;
    return i < 0 ? null : this.instructorNames[i]!;
  }
}
