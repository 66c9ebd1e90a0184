import type { Catalogue } from '../data/catalogue.ts';
import { DAY_MS } from '../data/time.ts';

/**
 * The ranker's vocabularies, by the values they stand for (class ids, discipline names, …) so a
 * saved model maps a later run's catalogue onto its own rows: a class that aired after training
 * gets the out-of-vocabulary id row and is scored by its features.
 */
export type RankerVocabulary = {
  classIds: string[];
  disciplines: string[];
  /** Minutes. */
  durations: number[];
  instructors: string[];
  languages: string[];
};

/** Feature columns of a catalogue in a vocabulary: row 0 of every table is "unknown". */
export interface ClassFeatures {
  /** Classes (the catalogue's indices). */
  size: number;
  id: Int32Array;
  discipline: Int32Array;
  duration: Int32Array;
  instructor: Int32Array;
  language: Int32Array;
  /** Discipline × duration: "45-min Running" is its own thing, not the sum of two. */
  disciplineDuration: Int32Array;
  airedAt: Float64Array;
}

export function vocabularyOf(catalogue: Catalogue): RankerVocabulary {
  const languages = [...new Set(catalogue.languages.filter((l): l is string => l !== null && l !== ''))].sort();
  return {
    classIds: [...catalogue.classIds],
    disciplines: [...catalogue.disciplines],
    durations: [...catalogue.durations],
    instructors: [...catalogue.instructors],
    languages,
  };
}

/** Rows of each embedding table, "unknown" row included. */
export function tableSizes(vocabulary: RankerVocabulary) {
  const disciplines = vocabulary.disciplines.length + 1;
  const durations = vocabulary.durations.length + 1;
  return {
    id: vocabulary.classIds.length + 1,
    discipline: disciplines,
    duration: durations,
    instructor: vocabulary.instructors.length + 1,
    language: vocabulary.languages.length + 1,
    disciplineDuration: disciplines * durations,
  };
}

export type TableName = keyof ReturnType<typeof tableSizes>;
export const TABLES: readonly TableName[] = ['id', 'discipline', 'duration', 'instructor', 'language', 'disciplineDuration'];

/** The catalogue's classes as rows of the vocabulary's tables. */
export function classFeatures(catalogue: Catalogue, vocabulary: RankerVocabulary): ClassFeatures {
  const lookup = <T>(values: readonly T[]) => new Map(values.map((v, i) => [v, i + 1]));
  const ids = lookup(vocabulary.classIds);
  const disciplines = lookup(vocabulary.disciplines);
  const durations = lookup(vocabulary.durations);
  const instructors = lookup(vocabulary.instructors);
  const languages = lookup(vocabulary.languages);
  const durationRows = vocabulary.durations.length + 1;
  const n = catalogue.size;
  const f: ClassFeatures = {
    size: n,
    id: new Int32Array(n),
    discipline: new Int32Array(n),
    duration: new Int32Array(n),
    instructor: new Int32Array(n),
    language: new Int32Array(n),
    disciplineDuration: new Int32Array(n),
    airedAt: catalogue.airedAt,
  };
  for (let c = 0; c < n; c++) {
    f.id[c] = ids.get(catalogue.classIds[c]!) ?? 0;
    const d = catalogue.discipline[c]!;
    f.discipline[c] = d < 0 ? 0 : (disciplines.get(catalogue.disciplines[d]!) ?? 0);
    f.duration[c] = durations.get(catalogue.durationMin[c]!) ?? 0;
    const i = catalogue.instructor[c]!;
    f.instructor[c] = i < 0 ? 0 : (instructors.get(catalogue.instructors[i]!) ?? 0);
    f.language[c] = languages.get(catalogue.languages[c] ?? '') ?? 0;
    f.disciplineDuration[c] = f.discipline[c]! * durationRows + f.duration[c]!;
  }
  return f;
}

/** Upper bounds (days, exclusive) of the class-age buckets; the last bucket is older or unknown. */
const AGE_BOUNDS_DAYS = [1, 2, 3, 5, 8, 15, 31, 61, 181];
export const AGE_BUCKETS = AGE_BOUNDS_DAYS.length + 1;

/**
 * A class's age bucket at time `at`, -1 when it had not aired yet (it cannot be taken). Fresh
 * classes draw most of their workouts in their first days: age is a strong, time-varying signal.
 */
export function ageBucket(airedAt: number, at: number): number {
  if (Number.isNaN(airedAt)) return AGE_BUCKETS - 1;
  const days = (at - airedAt) / DAY_MS;
  if (days < 0) return -1;
  for (let b = 0; b < AGE_BOUNDS_DAYS.length; b++) if (days < AGE_BOUNDS_DAYS[b]!) return b;
  return AGE_BUCKETS - 1;
}
