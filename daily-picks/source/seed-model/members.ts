/** Members: who they are (kind, time zone, activity) and their stable tastes. */
import { DAY_MS } from '../../../model/data/time.ts';
import { Rng, streamSeed } from '../../../model/data/rng.ts';
import { DISCIPLINES, LATENT_DIM, STREAM, TIMEZONES } from './platform.ts';
import { padId, programKey, windowStartMs, type GeneratedCatalogue, type SeedModelOptions } from './catalogue.ts';

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

