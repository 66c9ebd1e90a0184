import { numberColumn, readArrowBatches, stringColumn } from './arrow-files.ts';

/**
 * The classes of one run (the extract step's snapshot), as columns indexed by class index.
 * Rankings refer to classes by this index. Unknown features are -1 / NaN / null.
 */
export class Catalogue {
  readonly index = new Map<string, number>();
  readonly disciplines: string[] = [];
  readonly instructors: string[] = [];
  readonly instructorNames: string[] = [];
  /** Distinct durations in minutes, ascending. */
  readonly durations: number[];

  private constructor(
    readonly classIds: string[],
    readonly titles: string[],
    /** Index into `disciplines`, -1 unknown. */
    readonly discipline: Int32Array,
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
    const distinctDurations = [...new Set(columns.durations.filter((d) => d >= 0))].sort((a, b) => a - b);
    const durationIndex = new Map(distinctDurations.map((d, i) => [d, i]));
    const discipline = new Int32Array(n);
    const instructor = new Int32Array(n);
    const durationIdx = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const d = columns.disciplineNames[i];
      if (d === null || d === undefined || d === '') discipline[i] = -1;
      else {
        let idx = disciplineIndex.get(d);
        if (idx === undefined) {
          idx = disciplines.length;
          disciplines.push(d);
          disciplineIndex.set(d, idx);
        }
        discipline[i] = idx;
      }
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
      durationIdx[i] = durationIndex.get(columns.durations[i]!) ?? -1;
    }
    return new Catalogue(
      columns.ids,
      columns.titles,
      discipline,
      Int32Array.from(columns.durations),
      durationIdx,
      instructor,
      columns.languages,
      Float64Array.from(columns.aired),
      Uint8Array.from(columns.encore, (e) => (e ? 1 : 0)),
      disciplines,
      instructors,
      instructorNames,
      distinctDurations,
    );
  }

  disciplineName(classIdx: number): string | null {
    const d = this.discipline[classIdx]!;
    return d < 0 ? null : this.disciplines[d]!;
  }

  instructorName(classIdx: number): string | null {
    const i = this.instructor[classIdx]!;
    return i < 0 ? null : this.instructorNames[i]!;
  }
}
