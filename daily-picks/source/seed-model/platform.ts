/** The platform the generator invents: disciplines and their durations, languages, time zones, names. */

/** PRNG streams: each entity kind draws from its own, so adding members never changes the catalogue. */
export const STREAM = { instructors: 1, classes: 2, members: 3, latent: 4, workouts: 5, responses: 6 } as const;

/** Dimensions of the hidden "vibe" shared by classes and members' tastes. */
export const LATENT_DIM = 4;

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

export const FIRST_NAMES = ['Ana', 'Ben', 'Cody', 'Denis', 'Emma', 'Jess', 'Matt', 'Olivia', 'Robin', 'Alex', 'Tunde', 'Hannah', 'Leanne', 'Sam', 'Kendall', 'Adrian', 'Selena', 'Rad', 'Becs', 'Jenn', 'Chase', 'Mariana', 'Logan', 'Aditi', 'Kristin', 'Erik', 'Nico', 'Callie', 'Tobias', 'Irène', 'Jon', 'Ross', 'Susie', 'Marcel', 'Rebecca', 'Andy', 'Christine', 'Daniel', 'Kirra', 'Mayra'];
export const LAST_NAMES = ['Ruiz', 'Alldis', 'Rigsby', 'Morton', 'Lovewell', 'Sims', 'Wilpers', 'Amoroso', 'Arzon', 'Toussaint', 'Corden', 'Kennedy', 'Bolt', 'Jewell', 'Ortiz', 'Fraser', 'Rüdiger', 'Hall', 'Schmidt', 'Ward', 'Lopez', 'Kane', 'Nakamura', 'Dubois', 'Kang', 'Patel', 'Okafor', 'Brennan', 'Moreau', 'Weiss', 'Garcia', 'Silva', 'Novak', 'Larsen', 'Costa', 'Haddad', 'Murphy'];

