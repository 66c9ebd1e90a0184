/**
 * The generative model behind `flywheel seed`: a catalogue of classes and a population of
 * members with stable tastes (and a little drift), simulated day by day into workouts.
 * Pure and deterministic: no I/O, no wall clock, every random draw comes from a PRNG seeded
 * from the seed and the entity's index, so a member's workouts do not depend on chunking.
 * See daily-picks/source/README.md for the model in prose.
 */
import { DAY_MS } from '../../model/data/time.ts';
import { Rng, streamSeed } from '../../model/data/rng.ts';


const STREAM = { instructors: 1, classes: 2, members: 3, latent: 4, workouts: 5 } as const;

// ---------------------------------------------------------------------------------------
// The platform: disciplines, durations, titles

export interface Discipline {
  name: string;
  /** Share of the catalogue. */
  catalogueShare: number;
  /** Share of members who count it among their favourites (relative). */
  popularity: number;
  durations: readonly number[];
  /** Relative frequency of each duration in the catalogue. */
  durationWeights: readonly number[];
  /** Title formats: `{d}` minutes, `{who}` the instructor's first name. */
  titles: readonly string[];
  /** Titles of encore specials. */
  specials: readonly string[];
  /** A long effort, often followed by a short stretch. */
  cardio: boolean;
}

export const DISCIPLINES: readonly Discipline[] = [
  {
    name: 'cycling',
    catalogueShare: 0.24,
    popularity: 0.3,
    durations: [10, 15, 20, 30, 45, 60, 75, 90],
    durationWeights: [3, 2, 6, 9, 6, 4, 1, 1],
    titles: ['{d} min Power Zone Ride with {who}', '{d} min Climb Ride with {who}', '{d} min HIIT & Hills Ride with {who}', '{d} min Low Impact Ride with {who}', '{d} min 80s Ride with {who}', '{d} min 90s Pop Ride with {who}', '{d} min Hip Hop Ride with {who}', '{d} min Tabata Ride with {who}', '{d} min Intervals Ride with {who}', '{d} min Rock Ride with {who}'],
    specials: ['{d} min Anniversary Ride with {who}', '{d} min Live DJ Ride with {who}', '{d} min Century Ride Celebration with {who}'],
    cardio: true,
  },
  {
    name: 'running',
    catalogueShare: 0.14,
    popularity: 0.16,
    durations: [10, 20, 30, 45, 60, 75, 90],
    durationWeights: [2, 6, 8, 5, 3, 1, 1],
    titles: ['{d} min Endurance Run with {who}', '{d} min Tempo Run with {who}', '{d} min HIIT Run with {who}', '{d} min Fun Run with {who}', '{d} min Progression Run with {who}', '{d} min Recovery Run with {who}', '{d} min Pop Run with {who}'],
    specials: ['{d} min Race Day Run with {who}', '{d} min Turkey Trot with {who}'],
    cardio: true,
  },
  {
    name: 'walking',
    catalogueShare: 0.06,
    popularity: 0.07,
    durations: [10, 20, 30, 45, 60],
    durationWeights: [3, 6, 6, 3, 1],
    titles: ['{d} min Power Walk with {who}', '{d} min Hike with {who}', '{d} min Recovery Walk with {who}', '{d} min Country Walk with {who}'],
    specials: ['{d} min Holiday Walk with {who}'],
    cardio: true,
  },
  {
    name: 'strength',
    catalogueShare: 0.17,
    popularity: 0.15,
    durations: [5, 10, 15, 20, 30, 45, 60],
    durationWeights: [2, 5, 5, 6, 6, 2, 1],
    titles: ['{d} min Full Body Strength with {who}', '{d} min Upper Body Strength with {who}', '{d} min Lower Body Strength with {who}', '{d} min Core Strength with {who}', '{d} min Arms & Shoulders with {who}', '{d} min Glutes & Legs with {who}'],
    specials: ['{d} min Strength Anniversary Special with {who}'],
    cardio: true,
  },
  {
    name: 'yoga',
    catalogueShare: 0.1,
    popularity: 0.1,
    durations: [5, 10, 15, 20, 30, 45, 60, 75, 90],
    durationWeights: [1, 3, 4, 6, 6, 3, 2, 1, 1],
    titles: ['{d} min Yoga Flow with {who}', '{d} min Power Yoga with {who}', '{d} min Restorative Yoga with {who}', '{d} min Yin Yoga with {who}', '{d} min Slow Flow with {who}', '{d} min Yoga Basics with {who}'],
    specials: ['{d} min Sunrise Yoga Special with {who}'],
    cardio: false,
  },
  {
    name: 'meditation',
    catalogueShare: 0.06,
    popularity: 0.05,
    durations: [5, 10, 15, 20],
    durationWeights: [5, 6, 3, 2],
    titles: ['{d} min Sleep Meditation with {who}', '{d} min Mindfulness Meditation with {who}', '{d} min Breath Meditation with {who}', '{d} min Gratitude Meditation with {who}'],
    specials: ['{d} min New Year Meditation with {who}'],
    cardio: false,
  },
  {
    name: 'stretching',
    catalogueShare: 0.08,
    popularity: 0.03,
    durations: [5, 10, 15],
    durationWeights: [5, 6, 3],
    titles: ['{d} min Full Body Stretch with {who}', '{d} min Post-Ride Stretch with {who}', '{d} min Post-Run Stretch with {who}', '{d} min Lower Body Stretch with {who}', '{d} min Upper Body Stretch with {who}'],
    specials: ['{d} min Anniversary Stretch with {who}'],
    cardio: false,
  },
  {
    name: 'rowing',
    catalogueShare: 0.06,
    popularity: 0.06,
    durations: [5, 10, 15, 20, 30, 45, 60],
    durationWeights: [1, 3, 4, 6, 5, 2, 1],
    titles: ['{d} min Rowing Intervals with {who}', '{d} min Endurance Row with {who}', '{d} min Sweat Steady Row with {who}', '{d} min Form Row with {who}'],
    specials: ['{d} min Anniversary Row with {who}'],
    cardio: true,
  },
  {
    name: 'bootcamp',
    catalogueShare: 0.05,
    popularity: 0.05,
    durations: [20, 30, 45, 60],
    durationWeights: [3, 6, 5, 2],
    titles: ['{d} min Full Body Bootcamp with {who}', '{d} min Bike Bootcamp with {who}', '{d} min Tread Bootcamp with {who}', '{d} min Row Bootcamp with {who}'],
    specials: ['{d} min Anniversary Bootcamp with {who}'],
    cardio: true,
  },
  {
    name: 'pilates',
    catalogueShare: 0.04,
    popularity: 0.03,
    durations: [10, 20, 30, 45],
    durationWeights: [3, 6, 5, 2],
    titles: ['{d} min Pilates with {who}', '{d} min Mat Pilates with {who}', '{d} min Pilates Core with {who}'],
    specials: ['{d} min Pilates Special with {who}'],
    cardio: false,
  },
];

export const DIFFICULTIES = ['beginner', 'intermediate', 'advanced'] as const;
export const LANGUAGES = ['en', 'de', 'es'] as const;

/** IANA zones members live in, with their share and the language spoken there (index into LANGUAGES). */
export const TIMEZONES: readonly { zone: string; share: number; language: number }[] = [
  { zone: 'America/New_York', share: 0.28, language: 0 },
  { zone: 'America/Chicago', share: 0.13, language: 0 },
  { zone: 'America/Denver', share: 0.05, language: 0 },
  { zone: 'America/Los_Angeles', share: 0.16, language: 0 },
  { zone: 'America/Toronto', share: 0.06, language: 0 },
  { zone: 'America/Mexico_City', share: 0.03, language: 2 },
  { zone: 'Europe/London', share: 0.1, language: 0 },
  { zone: 'Europe/Berlin', share: 0.08, language: 1 },
  { zone: 'Europe/Madrid', share: 0.03, language: 2 },
  { zone: 'Australia/Sydney', share: 0.05, language: 0 },
  { zone: 'Asia/Tokyo', share: 0.03, language: 0 },
];

const FIRST_NAMES = ['Ana', 'Ben', 'Cody', 'Denis', 'Emma', 'Jess', 'Matt', 'Olivia', 'Robin', 'Alex', 'Tunde', 'Hannah', 'Leanne', 'Sam', 'Kendall', 'Adrian', 'Selena', 'Rad', 'Becs', 'Jenn', 'Chase', 'Mariana', 'Logan', 'Aditi', 'Kristin', 'Erik', 'Nico', 'Callie', 'Tobias', 'Irène', 'Jon', 'Ross', 'Susie', 'Marcel', 'Rebecca', 'Andy', 'Christine', 'Daniel', 'Kirra', 'Mayra'];
const LAST_NAMES = ['Ruiz', 'Alldis', 'Rigsby', 'Morton', 'Lovewell', 'Sims', 'Wilpers', 'Amoroso', 'Arzon', 'Toussaint', 'Corden', 'Kennedy', 'Bolt', 'Jewell', 'Ortiz', 'Fraser', 'Rüdiger', 'Hall', 'Schmidt', 'Ward', 'Lopez', 'Kane', 'Nakamura', 'Dubois', 'Kang', 'Patel', 'Okafor', 'Brennan', 'Moreau', 'Weiss', 'Garcia', 'Silva', 'Novak', 'Larsen', 'Costa', 'Haddad', 'Murphy'];

// ---------------------------------------------------------------------------------------
// Options and the catalogue

export interface SeedModelOptions {
  members: number;
  classes: number;
  days: number;
  seed: number;
  /** End of the window (exclusive); every timestamp is anchored on it. */
  until: Date;
}

/** Dimensions of the hidden "vibe" vectors (music, intensity, coaching style): not in any column. */
export const LATENT_DIM = 4;
/** Classes scored per choice: the freshest few plus a random sample of older ones. */
const CANDIDATES_FRESH = 16;
const CANDIDATES_OLDER = 40;
/** Scratch space for `choose` (single-threaded, not re-entrant). */
const CANDIDATES = new Int32Array(CANDIDATES_FRESH + CANDIDATES_OLDER);
const CUMULATIVE = new Float64Array(CANDIDATES_FRESH + CANDIDATES_OLDER);
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

// ---------------------------------------------------------------------------------------
// Members

export type MemberKind = 'active' | 'new' | 'cold' | 'inactive' | 'churned';

export interface Member {
  index: number;
  id: string;
  kind: MemberKind;
  signupMs: number;
  /** No workouts at or after this time (churn); Infinity when still active. */
  stopMs: number;
  timezone: number;
  language: number;
  /** 0 beginner … 2 advanced. */
  level: number;
  /** Discipline weights (favourites carry most of the mass). */
  disciplineWeights: Float64Array;
  /** Where in each discipline's duration range the member sits (0 shortest … 1 longest). */
  durationPosition: number;
  favouriteInstructors: number[];
  /** Local hour the member usually works out. */
  hour: number;
  /** Expected sessions per week (heavy tailed). */
  weeklyRate: number;
  freshnessTaste: number;
  repeatRate: number;
  stretchRate: number;
  /** Hidden vibe vector. */
  latent: Float32Array;
  /** When the member's taste drifts (Infinity: never), and how. */
  driftMs: number;
  driftDiscipline: number;
  driftDurationShift: number;
  /** A program the member works through in air order (`programKey`), or -1. */
  program: number;
  /** Where in the program's back catalogue they start (0–1). */
  programStart: number;
}

export function buildMember(options: SeedModelOptions, catalogue: GeneratedCatalogue, index: number): Member {
  const rng = new Rng(streamSeed(options.seed, STREAM.members, index));
  const until = options.until.getTime();
  const start = windowStartMs(options);
  const days = options.days;
  // Who they are: a few signed up in the last days (cold start, no workouts yet), some joined
  // during the window, some stopped 60+ days ago (only possible in a window over 60 days),
  // some churned more recently; the rest are regulars.
  const roll = rng.next();
  let kind: MemberKind;
  if (roll < 0.03) kind = 'cold';
  else if (roll < 0.09) kind = days > 60 ? 'inactive' : 'churned';
  else if (roll < 0.12) kind = 'churned';
  else if (roll < 0.22) kind = 'new';
  else kind = 'active';
  let signupMs: number;
  let stopMs = Infinity;
  const someTimeOfDay = () => Math.floor(rng.next() * DAY_MS / 1000) * 1000;
  if (kind === 'cold') signupMs = until - Math.min(days, 5) * DAY_MS + Math.floor(rng.next() * Math.min(days, 5)) * DAY_MS + someTimeOfDay();
  else if (kind === 'new') signupMs = start + Math.floor(rng.next() * Math.max(1, days - 5)) * DAY_MS + someTimeOfDay();
  else signupMs = start - (1 + Math.floor(rng.next() * 1000)) * DAY_MS + someTimeOfDay();
  // Inactive: the last workout is before until − 60 days (stop ∈ [start + 1 day, until − 60 days]).
  if (kind === 'inactive') stopMs = start + (1 + Math.floor(rng.next() * (days - 60))) * DAY_MS;
  if (kind === 'churned') stopMs = start + Math.floor(rng.next() * days) * DAY_MS;
  if (kind === 'cold') stopMs = -Infinity;

  let tz = 0;
  {
    let x = rng.next();
    for (let i = 0; i < TIMEZONES.length; i += 1) {
      x -= TIMEZONES[i]!.share;
      if (x < 0 || i === TIMEZONES.length - 1) {
        tz = i;
        break;
      }
    }
  }
  const local = TIMEZONES[tz]!.language;
  const language = local !== 0 && rng.chance(0.55) ? local : 0;

  // Tastes: 1–3 favourite disciplines carry ~92% of the mass, the rest is exploration.
  const D = DISCIPLINES.length;
  const popularity = DISCIPLINES.map((d) => d.popularity);
  const favourites: number[] = [];
  const favouriteCount = 1 + rng.weighted([0.35, 0.45, 0.2]);
  while (favourites.length < favouriteCount) {
    const d = rng.weighted(popularity);
    if (!favourites.includes(d)) favourites.push(d);
  }
  const weights = new Float64Array(D);
  for (let d = 0; d < D; d += 1) weights[d] = 0.08 * popularity[d]!;
  let share = 0.92;
  for (let k = 0; k < favourites.length; k += 1) {
    const w = k === favourites.length - 1 ? share : share * rng.range(0.5, 0.8);
    weights[favourites[k]!]! += w;
    share -= w;
  }
  // Favourite instructors: 1–3 among those teaching a favourite discipline (in the member's language when possible).
  const teaching = catalogue.instructors.map((ins, i) => ({ ins, i })).filter(({ ins }) => ins.disciplines.some((d) => favourites.includes(d)));
  const speaksLanguage = teaching.some(({ ins }) => ins.language === language);
  const candidates = speaksLanguage ? teaching.filter(({ ins }) => ins.language === language) : teaching;
  const favouriteInstructors: number[] = [];
  const instructorCount = 1 + rng.weighted([0.4, 0.4, 0.2]);
  for (let k = 0; k < instructorCount && candidates.length > 0; k += 1) {
    const { i } = rng.pick(candidates);
    if (!favouriteInstructors.includes(i)) favouriteInstructors.push(i);
  }
  const latent = new Float32Array(LATENT_DIM);
  for (let k = 0; k < LATENT_DIM; k += 1) latent[k] = rng.normal();
  const hour = rng.pick([6, 6, 7, 7, 8, 12, 12, 17, 18, 18, 19, 20, 21]);
  // Heavy-tailed activity: log-normal, median 2.5 sessions a week, capped at 12.
  const weeklyRate = Math.min(12, 2.5 * Math.exp(0.8 * rng.normal()));
  const drift = rng.chance(0.3);
  let driftDiscipline = favourites[0]!;
  while (drift && favourites.includes(driftDiscipline)) driftDiscipline = rng.weighted(popularity);
  // 15% work through a program: a favourite instructor's classes of one discipline, in air order.
  let program = -1;
  const programStart = rng.next();
  if (rng.chance(0.15) && favouriteInstructors.length > 0) {
    const ins = favouriteInstructors[0]!;
    const taught = catalogue.instructors[ins]!.disciplines;
    const d = taught.find((x) => favourites.includes(x)) ?? taught[0]!;
    if ((catalogue.series.get(programKey(ins, d))?.length ?? 0) >= 4) program = programKey(ins, d);
  }
  return {
    index,
    id: padId('m', index, options.members),
    kind,
    signupMs,
    stopMs,
    timezone: tz,
    language,
    level: rng.weighted([3, 5, 2]),
    disciplineWeights: weights,
    durationPosition: Math.min(1, Math.max(0, 0.42 + 0.25 * rng.normal())),
    favouriteInstructors,
    hour,
    weeklyRate,
    freshnessTaste: Math.max(0, 1.2 + 0.7 * rng.normal()),
    repeatRate: rng.chance(0.4) ? rng.range(0.03, 0.2) : 0.01,
    stretchRate: rng.chance(0.45) ? rng.range(0.1, 0.5) : 0.03,
    latent,
    driftMs: drift ? start + Math.floor(rng.next() * days) * DAY_MS : Infinity,
    driftDiscipline: drift && rng.chance(0.6) ? driftDiscipline : -1,
    driftDurationShift: drift ? (rng.chance(0.5) ? 0.3 : -0.3) : 0,
    program,
    programStart,
  };
}

// ---------------------------------------------------------------------------------------
// Workouts

/** Columns of generated workouts, appended to by `simulateMember`. */
export interface WorkoutColumns {
  memberId: string[];
  classId: string[];
  /** Unix seconds. */
  startedAt: number[];
  completion: number[];
}

export function emptyWorkouts(): WorkoutColumns {
  return { memberId: [], classId: [], startedAt: [], completion: [] };
}

/** UTC offset (minutes) of each member timezone on each day of the window, computed once. */
export class OffsetTable {
  private readonly table: Int16Array;
  constructor(
    private readonly startMs: number,
    private readonly days: number,
  ) {
    this.table = new Int16Array(TIMEZONES.length * days);
    for (let z = 0; z < TIMEZONES.length; z += 1) {
      const format = new Intl.DateTimeFormat('en-US', { timeZone: TIMEZONES[z]!.zone, timeZoneName: 'longOffset' });
      for (let d = 0; d < days; d += 1) {
        const part = format.formatToParts(new Date(startMs + d * DAY_MS + DAY_MS / 2)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
        const m = /GMT([+-])(\d{2}):(\d{2})/.exec(part);
        this.table[z * days + d] = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
      }
    }
  }
  /** UTC ms of local midnight of day `day` (the window's day, as a calendar date) in zone `z`. */
  localMidnight(z: number, day: number): number {
    return this.startMs + day * DAY_MS - this.table[z * this.days + day]! * 60_000;
  }
}

interface SimState {
  history: number[];
  /** Next position in the member's program. */
  programPos: number;
}

/**
 * Simulates one member's workouts over the window, appending them (in time order) to `out`.
 * Returns how many were added.
 */
export function simulateMember(options: SeedModelOptions, catalogue: GeneratedCatalogue, offsets: OffsetTable, member: Member, out: WorkoutColumns): number {
  if (member.kind === 'cold') return 0;
  const rng = new Rng(streamSeed(options.seed, STREAM.workouts, member.index));
  const start = windowStartMs(options);
  const until = options.until.getTime();
  let programPos = 0;
  if (member.program >= 0) {
    const list = catalogue.series.get(member.program)!;
    let before = 0;
    while (before < list.length && catalogue.airedMs[list[before]!]! < start) before += 1;
    programPos = Math.floor(member.programStart * before * 0.8);
  }
  const state: SimState = { history: [], programPos };
  const before = out.memberId.length;
  const weights = member.disciplineWeights.slice();
  let durations: DurationPreference = { position: member.durationPosition, weights: [] };
  let drifted = false;
  const dailyRate = member.weeklyRate / 7;
  for (let day = 0; day < options.days; day += 1) {
    const dayStart = start + day * DAY_MS;
    if (!drifted && dayStart >= member.driftMs) {
      // Drift: adopt a new discipline (it takes 35% of the mass) and/or move to shorter or longer classes.
      drifted = true;
      if (member.driftDiscipline >= 0) {
        let total = 0;
        for (let d = 0; d < weights.length; d += 1) total += weights[d]!;
        weights[member.driftDiscipline]! += total * 0.55;
      }
      durations = { position: Math.min(1, Math.max(0, durations.position + member.driftDurationShift)), weights: [] };
    }
    const dow = new Date(dayStart).getUTCDay();
    const sessions = rng.poisson(dailyRate * (dow === 0 || dow === 6 ? 1.25 : 0.9));
    if (sessions === 0) continue;
    const midnight = offsets.localMidnight(member.timezone, day);
    let hour = member.hour;
    for (let s = 0; s < sessions; s += 1) {
      let minutes = Math.round((hour + 0.9 * rng.normal()) * 60 + rng.int(60));
      // Nobody works out between 23:30 and 05:00: reflect off those edges (no pile-up at them).
      if (minutes < 5 * 60) minutes = Math.min(10 * 60 - minutes, 23 * 60);
      if (minutes > 23 * 60 + 30) minutes = Math.max(47 * 60 - minutes, 5 * 60);
      const t = midnight + minutes * 60_000 + rng.int(60) * 1000;
      hour = (hour + 7) % 24; // a second session the same day comes later
      if (t < start || t >= until || t < member.signupMs || t >= member.stopMs) continue;
      session(options, catalogue, member, rng, state, weights, durations, t, out);
    }
  }
  if (member.kind === 'inactive' && out.memberId.length === before) {
    // An inactive member worked out at least once before stopping.
    const t = Math.max(start, member.signupMs) + 12 * 3_600_000;
    if (t < member.stopMs) session(options, catalogue, member, rng, state, weights, durations, t, out);
  }
  return out.memberId.length - before;
}

/** A member's duration weights per discipline at their current duration position (recomputed after drift). */
interface DurationPreference {
  position: number;
  weights: (number[] | undefined)[];
}

function durationWeightsFor(preference: DurationPreference, discipline: number): number[] {
  let w = preference.weights[discipline];
  if (!w) preference.weights[discipline] = w = durationWeights(discipline, preference.position);
  return w;
}

function durationWeights(discipline: number, position: number): number[] {
  const n = DISCIPLINES[discipline]!.durations.length;
  const result: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const x = n === 1 ? 0 : i / (n - 1) - position;
    result.push(Math.exp(-(x * x) / (2 * 0.14 * 0.14)) + 0.02);
  }
  return result;
}

function push(out: WorkoutColumns, member: Member, catalogue: GeneratedCatalogue, cls: number, t: number, rng: Rng): void {
  const mismatch = Math.abs(catalogue.difficulty[cls]! - member.level);
  const completion = rng.chance(0.82 - 0.15 * mismatch) ? 1 : Math.round(rng.range(0.15, 0.98) * 100) / 100;
  out.memberId.push(member.id);
  out.classId.push(catalogue.id[cls]!);
  out.startedAt.push(Math.floor(t / 1000));
  out.completion.push(completion);
}

/** One session: a main class (a repeat, or a fresh choice), sometimes followed by a short stretch. */
function session(
  options: SeedModelOptions,
  catalogue: GeneratedCatalogue,
  member: Member,
  rng: Rng,
  state: SimState,
  weights: Float64Array,
  durations: DurationPreference,
  t: number,
  out: WorkoutColumns,
): void {
  let cls = -1;
  if (state.history.length >= 3 && rng.chance(member.repeatRate)) {
    // Repeat a class they took recently (not an encore special).
    const recent = state.history.slice(-20).filter((i) => catalogue.isEncore[i] === 0);
    if (recent.length > 0) cls = rng.pick(recent);
  }
  if (cls < 0 && member.program >= 0 && rng.chance(0.35)) {
    // Working through a program: the next class of the series, if it has aired.
    const list = catalogue.series.get(member.program)!;
    if (state.programPos < list.length && catalogue.airedMs[list[state.programPos]!]! <= t) {
      cls = list[state.programPos]!;
      state.programPos += 1;
    }
  }
  if (cls < 0) {
    const d = rng.weighted(weights);
    const di = rng.weighted(durationWeightsFor(durations, d));
    cls = choose(catalogue, member, rng, d, di, t, -1);
  }
  if (cls < 0) return;
  push(out, member, catalogue, cls, t, rng);
  state.history.push(cls);
  if (DISCIPLINES[catalogue.discipline[cls]!]!.cardio && catalogue.durationMin[cls]! >= 20 && rng.chance(member.stretchRate)) {
    // After a long effort: a 5–10 min stretch, preferably with the same instructor.
    const follow = choose(catalogue, member, rng, STRETCHING, rng.chance(0.55) ? 0 : 1, t, catalogue.instructor[cls]!);
    if (follow >= 0) {
      const after = t + (catalogue.durationMin[cls]! + 1 + rng.int(3)) * 60_000;
      if (after < options.until.getTime()) {
        push(out, member, catalogue, follow, after, rng);
        state.history.push(follow);
      }
    }
  }
}

const STRETCHING = DISCIPLINES.findIndex((d) => d.name === 'stretching');

/** Upper bound: how many entries of the sorted `aired` are ≤ t. */
function airedBy(aired: Float64Array, t: number): number {
  let lo = 0;
  let hi = aired.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (aired[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Chooses a class of discipline `d`, duration index `di` (or the nearest duration with classes)
 * aired by `t`: a softmax (Gumbel-max) over the member's utility for the freshest classes and a
 * sample of older ones. Utility = vibe match (hidden) + quality + favourite instructor +
 * language + difficulty fit + freshness (encores: strong in their air week, weak after).
 */
function choose(catalogue: GeneratedCatalogue, member: Member, rng: Rng, d: number, di: number, t: number, sameInstructor: number): number {
  const row = catalogue.buckets[d]!;
  let bucket = row[di]!;
  let available = airedBy(bucket.aired, t);
  for (let step = 1; available === 0 && step < row.length; step += 1) {
    for (const other of [di - step, di + step]) {
      if (other < 0 || other >= row.length) continue;
      const b = row[other]!;
      const a = airedBy(b.aired, t);
      if (a > 0) {
        bucket = b;
        available = a;
        break;
      }
    }
  }
  if (available === 0) return -1;
  // Candidates: the freshest few and a sample of older ones.
  const ids = bucket.ids;
  let m = 0;
  if (available <= CANDIDATES_FRESH + CANDIDATES_OLDER) {
    for (let k = 0; k < available; k += 1) CANDIDATES[m++] = ids[k]!;
  } else {
    for (let k = available - CANDIDATES_FRESH; k < available; k += 1) CANDIDATES[m++] = ids[k]!;
    const older = available - CANDIDATES_FRESH;
    for (let k = 0; k < CANDIDATES_OLDER; k += 1) CANDIDATES[m++] = ids[rng.int(older)]!;
  }
  // A draw from the softmax over the member's utilities.
  const lat = catalogue.latent;
  const u = member.latent;
  const favourites = member.favouriteInstructors;
  let total = 0;
  for (let k = 0; k < m; k += 1) {
    const cls = CANDIDATES[k]!;
    const o = cls * LATENT_DIM;
    let s = 0.9 * (u[0]! * lat[o]! + u[1]! * lat[o + 1]! + u[2]! * lat[o + 2]! + u[3]! * lat[o + 3]!);
    s += catalogue.quality[cls]!;
    const ins = catalogue.instructor[cls]!;
    if (favourites.includes(ins)) s += 1.6;
    if (ins === sameInstructor) s += 1.5;
    if (catalogue.language[cls]! !== member.language) s -= 2.5;
    s -= 0.7 * Math.abs(catalogue.difficulty[cls]! - member.level);
    const ageDays = (t - catalogue.airedMs[cls]!) / DAY_MS;
    if (catalogue.isEncore[cls]) s += ageDays < 7 ? 2.5 : -3;
    else if (ageDays < 60) s += member.freshnessTaste * Math.exp(-ageDays / 10); // negligible past 60 days
    total += Math.exp(s);
    CUMULATIVE[k] = total;
  }
  const x = rng.next() * total;
  for (let k = 0; k < m - 1; k += 1) if (x < CUMULATIVE[k]!) return CANDIDATES[k]!;
  return CANDIDATES[m - 1]!;
}
