/** The catalogue: instructors and classes (back catalogue plus new classes airing every day). */
import { DAY_MS } from '../../../model/data/time.ts';
import { Rng, streamSeed } from '../../../model/data/rng.ts';
import { DISCIPLINES, FIRST_NAMES, LAST_NAMES, LATENT_DIM, STREAM } from './platform.ts';

export interface SeedModelOptions {
  members: number;
  classes: number;
  days: number;
  seed: number;
  /** End of the window (exclusive); every timestamp is anchored on it. */
  until: Date;
}

/** Dimensions of the hidden "vibe" vectors (music, intensity, coaching style): not in any column. */
/** The back catalogue aired over this many days before the window. */
const BACK_CATALOGUE_DAYS = 730;

export interface Instructor {
  id: string;
  name: string;
  firstName: string;
  language: number;
  disciplines: number[];
}

/** The catalogue as columns (struct of arrays), plus per-(discipline, duration) buckets sorted by air time. */
export interface GeneratedCatalogue {
  instructors: Instructor[];
  count: number;
  id: string[];
  title: string[];
  discipline: Uint8Array;
  durationIndex: Uint8Array;
  durationMin: Int16Array;
  instructor: Int16Array;
  language: Uint8Array;
  difficulty: Uint8Array;
  airedMs: Float64Array;
  isEncore: Uint8Array;
  /** Production quality: the part of a class's appeal everyone shares (drives popularity). */
  quality: Float32Array;
  /** Hidden vibe vectors, LATENT_DIM per class. */
  latent: Float32Array;
  /** bucket[discipline][durationIndex]: class indices sorted by aired time, and their aired times. */
  buckets: { ids: Int32Array; aired: Float64Array }[][];
  /** An instructor's classes of one discipline in air order (a "program" to work through), keyed by `programKey`. */
  series: Map<number, Int32Array>;
}

export function programKey(instructor: number, discipline: number): number {
  return instructor * 64 + discipline;
}

export function padId(prefix: string, index: number, total: number): string {
  return `${prefix}${String(index + 1).padStart(Math.max(5, String(total).length), '0')}`;
}

/** Minimum classes for a window of `days`: one new class per day plus a back catalogue per discipline. */
export function minimumClasses(days: number): number {
  return days + 4 * DISCIPLINES.length;
}

export function windowStartMs(options: SeedModelOptions): number {
  return options.until.getTime() - options.days * DAY_MS;
}

export function buildInstructors(options: SeedModelOptions): Instructor[] {
  const count = Math.max(12, Math.min(60, Math.round(options.classes / 80)));
  const rng = new Rng(streamSeed(options.seed, STREAM.instructors, 0));
  const used = new Set<string>();
  const result: Instructor[] = [];
  const disciplineWeights = DISCIPLINES.map((d) => d.catalogueShare);
  for (let i = 0; i < count; i += 1) {
    let first = FIRST_NAMES[(i + rng.int(3)) % FIRST_NAMES.length]!;
    let last = rng.pick(LAST_NAMES);
    let name = `${first} ${last}`;
    for (let tries = 0; used.has(name); tries += 1) {
      first = FIRST_NAMES[(i + tries + 1) % FIRST_NAMES.length]!;
      last = LAST_NAMES[(i * 7 + tries) % LAST_NAMES.length]!;
      name = `${first} ${last}`;
    }
    used.add(name);
    // The first instructors cover every discipline (twice over); the rest follow the catalogue.
    const primary = i < 2 * DISCIPLINES.length ? i % DISCIPLINES.length : rng.weighted(disciplineWeights);
    const disciplines = [primary];
    const extra = rng.weighted([0.45, 0.4, 0.15]);
    for (let k = 0; k < extra; k += 1) {
      const d = rng.weighted(disciplineWeights);
      if (!disciplines.includes(d)) disciplines.push(d);
    }
    const language = rng.chance(0.82) ? 0 : rng.chance(0.55) ? 1 : 2;
    const id = name
      .toLowerCase()
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^a-z0-9]+/g, '-');
    result.push({ id, name, firstName: first, language, disciplines });
  }
  // English is taught in every discipline.
  for (let d = 0; d < DISCIPLINES.length; d += 1) {
    if (!result.some((ins) => ins.language === 0 && ins.disciplines.includes(d))) {
      const ins = result.find((x) => x.language === 0);
      if (ins) ins.disciplines.push(d);
    }
  }
  return result;
}

export function buildCatalogue(options: SeedModelOptions): GeneratedCatalogue {
  const n = options.classes;
  const instructors = buildInstructors(options);
  const rng = new Rng(streamSeed(options.seed, STREAM.classes, 0));
  const start = windowStartMs(options);
  const c: GeneratedCatalogue = {
    instructors,
    count: n,
    id: new Array<string>(n),
    title: new Array<string>(n),
    discipline: new Uint8Array(n),
    durationIndex: new Uint8Array(n),
    durationMin: new Int16Array(n),
    instructor: new Int16Array(n),
    language: new Uint8Array(n),
    difficulty: new Uint8Array(n),
    airedMs: new Float64Array(n),
    isEncore: new Uint8Array(n),
    quality: new Float32Array(n),
    latent: new Float32Array(n * LATENT_DIM),
    buckets: [],
    series: new Map(),
  };
  // New classes air every day of the window: ~30% of the catalogue, at least one a day.
  const fresh = Math.min(n - 2 * DISCIPLINES.length, Math.max(options.days, Math.round(0.3 * n)));
  const back = n - fresh;
  const teaching = DISCIPLINES.map((_, d) => instructors.map((ins, i) => (ins.disciplines.includes(d) ? i : -1)).filter((i) => i >= 0));
  const shares = DISCIPLINES.map((d) => d.catalogueShare);
  const encoreEvery = 100; // ~1%
  for (let i = 0; i < n; i += 1) {
    // Back catalogue first (indices 0..back-1), aired over two years before the window; then the
    // window's classes in air order, `fresh / days` a day.
    let aired: number;
    if (i < back) {
      aired = start - BACK_CATALOGUE_DAYS * DAY_MS + Math.floor(rng.next() * BACK_CATALOGUE_DAYS) * DAY_MS;
    } else {
      const k = i - back;
      aired = start + Math.floor((k * options.days) / fresh) * DAY_MS;
    }
    // Studio hours: 11:00–23:30 UTC (morning to evening in New York), on the half hour.
    aired += (11 * 60 + 30 * rng.int(26)) * 60_000;
    // Every discipline has a back catalogue (the first classes go round-robin).
    const d = i < 2 * DISCIPLINES.length ? i % DISCIPLINES.length : rng.weighted(shares);
    const disc = DISCIPLINES[d]!;
    const di = rng.weighted(disc.durationWeights);
    const ins = rng.pick(teaching[d]!);
    const instructor = instructors[ins]!;
    const encore = i % encoreEvery === encoreEvery >> 1 && rng.chance(0.95);
    const format = encore ? rng.pick(disc.specials) : rng.pick(disc.titles);
    c.id[i] = padId('c', i, n);
    c.discipline[i] = d;
    c.durationIndex[i] = di;
    c.durationMin[i] = disc.durations[di]!;
    c.instructor[i] = ins;
    c.language[i] = instructor.language;
    c.difficulty[i] = rng.weighted(disc.name === 'meditation' || disc.name === 'stretching' ? [6, 2, 0.2] : [3, 5, 2]);
    c.airedMs[i] = aired;
    c.isEncore[i] = encore ? 1 : 0;
    c.quality[i] = 0.5 * rng.normal() + (encore ? 0.6 : 0);
    c.title[i] = format.replace('{d}', String(c.durationMin[i])).replace('{who}', instructor.firstName);
  }
  const latentRng = new Rng(streamSeed(options.seed, STREAM.latent, 0));
  for (let i = 0; i < n * LATENT_DIM; i += 1) c.latent[i] = latentRng.normal();
  // Buckets sorted by air time (ties by index, so the order is deterministic).
  for (let d = 0; d < DISCIPLINES.length; d += 1) {
    const row: { ids: Int32Array; aired: Float64Array }[] = [];
    for (let di = 0; di < DISCIPLINES[d]!.durations.length; di += 1) {
      const ids: number[] = [];
      for (let i = 0; i < n; i += 1) if (c.discipline[i] === d && c.durationIndex[i] === di) ids.push(i);
      ids.sort((a, b) => c.airedMs[a]! - c.airedMs[b]! || a - b);
      row.push({ ids: Int32Array.from(ids), aired: Float64Array.from(ids, (i) => c.airedMs[i]!) });
    }
    c.buckets.push(row);
  }
  const series = new Map<number, number[]>();
  for (let i = 0; i < n; i += 1) {
    if (c.isEncore[i]) continue;
    const key = programKey(c.instructor[i]!, c.discipline[i]!);
    const list = series.get(key) ?? [];
    list.push(i);
    series.set(key, list);
  }
  for (const [key, list] of series) c.series.set(key, Int32Array.from(list.sort((a, b) => c.airedMs[a]! - c.airedMs[b]! || a - b)));
  return c;
}

