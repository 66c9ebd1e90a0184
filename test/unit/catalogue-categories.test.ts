/**
 * Imported catalogues: multi-valued categories (`Action|Adventure`, MovieLens genres) split into
 * single ones — the catalogue's category rows, the ranker's first category, member profiles over
 * single categories — and missing durations / air dates kept unknown, never made up.
 */
import { describe, expect, it } from 'vitest';
import { Catalogue, splitCategories } from '../../model/data/catalogue.ts';
import { profileFromWorkouts } from '../../model/data/profiles.ts';
import { classFeatures, vocabularyOf } from '../../model/ranker/features.ts';

const AS_OF = Date.parse('2026-06-01T00:00:00Z');

/** Films: genres as one `|`-joined cell, no durations, instructors or air dates (as `flywheel import items --category-col genres` leaves them). */
function films(genres: (string | null)[], extra: { durations?: number[]; aired?: number[] } = {}): Catalogue {
  const ids = genres.map((_, i) => `f${i}`);
  return Catalogue.fromColumns({
    ids,
    titles: ids,
    disciplineNames: genres,
    durations: extra.durations ?? ids.map(() => -1),
    instructorIds: ids.map(() => null),
    instructorNamesByClass: ids.map(() => null),
    languages: ids.map(() => null),
    aired: extra.aired ?? ids.map(() => Number.NaN),
    encore: ids.map(() => false),
  });
}

describe('splitCategories', () => {
  it('splits on |, trims, drops empties and repeats, keeps the order', () => {
    expect(splitCategories('Action|Adventure')).toEqual(['Action', 'Adventure']);
    expect(splitCategories(' Comedy | | Romance ')).toEqual(['Comedy', 'Romance']);
    expect(splitCategories('Drama|Drama|War')).toEqual(['Drama', 'War']);
    expect(splitCategories('yoga')).toEqual(['yoga']);
    for (const none of [null, undefined, '', ' ', '|', ' | ']) expect(splitCategories(none)).toEqual([]);
  });
});

describe('Catalogue categories', () => {
  const catalogue = films(['Action|Adventure', 'Comedy|Romance', 'Adventure', null, ' | ', 'Comedy | Action|Comedy']);
  const names = (c: number) => catalogue.categoryNames(c);

  it('lists single categories only, each once', () => {
    expect(catalogue.disciplines).toEqual(['Action', 'Adventure', 'Comedy', 'Romance']);
    for (const d of catalogue.disciplines) expect(d).not.toContain('|');
  });

  it('keeps every category of a class (CSR rows) and its first as `discipline`', () => {
    expect([0, 1, 2, 3, 4, 5].map(names)).toEqual([['Action', 'Adventure'], ['Comedy', 'Romance'], ['Adventure'], [], [], ['Comedy', 'Action']]);
    expect(Array.from(catalogue.categoryOffsets)).toEqual([0, 2, 4, 5, 5, 5, 7]);
    expect(catalogue.categoryIdx.length).toBe(7);
    for (let c = 0; c < catalogue.size; c++) {
      const categories = catalogue.categoriesOf(c);
      expect(catalogue.discipline[c]).toBe(categories.length === 0 ? -1 : categories[0]);
      expect(catalogue.disciplineName(c)).toBe(names(c)[0] ?? null);
    }
  });

  it("feeds the ranker the class's first category, by name", () => {
    const vocabulary = vocabularyOf(catalogue);
    expect(vocabulary.disciplines).toEqual(['Action', 'Adventure', 'Comedy', 'Romance']);
    const features = classFeatures(catalogue, vocabulary);
    // Row 0 is "unknown"; Comedy is vocabulary entry 2 → row 3.
    expect(Array.from(features.discipline)).toEqual([1, 3, 2, 0, 0, 3]);
  });

  it('reads a catalogue of single disciplines exactly as before', () => {
    const fitness = films(['yoga', 'cycling', 'yoga', null]);
    expect(fitness.disciplines).toEqual(['yoga', 'cycling']);
    expect(Array.from(fitness.discipline)).toEqual([0, 1, 0, -1]);
    expect([0, 1, 2, 3].map((c) => Array.from(fitness.categoriesOf(c)))).toEqual([[0], [1], [0], []]);
  });
});

describe('missing durations and air dates', () => {
  it('keeps a missing duration unknown (-1), never 0 minutes; says whether any class has one', () => {
    const catalogue = films(['A', 'B', 'C', 'D', 'E'], { durations: [-1, Number.NaN, 0, 12.4, 45] });
    expect(Array.from(catalogue.durationMin)).toEqual([-1, -1, -1, 12, 45]);
    expect(catalogue.durations).toEqual([12, 45]);
    expect(Array.from(catalogue.durationIdx)).toEqual([-1, -1, -1, 0, 1]);
    expect(catalogue.hasDurations).toBe(true);
    expect(films(['A', 'B']).hasDurations).toBe(false);
    expect(films(['A']).hasInstructors).toBe(false);
  });

  it('keeps a missing air date NaN', () => {
    const catalogue = films(['A', 'B', 'C'], { aired: [Number.NaN, Number.POSITIVE_INFINITY, AS_OF] });
    expect(Number.isNaN(catalogue.airedAt[0]!)).toBe(true);
    expect(Number.isNaN(catalogue.airedAt[1]!)).toBe(true);
    expect(catalogue.airedAt[2]).toBe(AS_OF);
    expect(catalogue.hasAirDates).toBe(true);
    expect(films(['A']).hasAirDates).toBe(false);
  });
});

describe('profiles over single categories', () => {
  // 0 Comedy|Romance, 1 Comedy|Drama, 2 Comedy, 3 Horror, 4 Romance|Drama (untaken)
  const catalogue = films(['Comedy|Romance', 'Comedy|Drama', 'Comedy', 'Horror', 'Romance|Drama']);
  const d = (name: string) => catalogue.disciplines.indexOf(name);

  it('counts every category of each film the member took, with its full weight', () => {
    const profile = profileFromWorkouts(catalogue, [0, 1, 2], AS_OF, { halfLife: Number.POSITIVE_INFINITY });
    expect(profile.totalWeight).toBe(3);
    expect(profile.disciplineWeights.get(d('Comedy'))).toBe(3);
    expect(profile.disciplineWeights.get(d('Romance'))).toBe(1);
    expect(profile.disciplineWeights.get(d('Drama'))).toBe(1);
    expect(profile.disciplineWeights.has(d('Horror'))).toBe(false);
    expect(catalogue.disciplines[profile.topDiscipline]).toBe('Comedy');
    // Romance and Drama are each in 1 of 3 films (≥ 20 %): usual too; never a "Comedy|Romance".
    expect([...profile.usualDisciplines].map((u) => catalogue.disciplines[u]).sort()).toEqual(['Comedy', 'Drama', 'Romance']);
  });

  it('a film without categories counts towards none', () => {
    const withUnknown = films(['Comedy', null]);
    const profile = profileFromWorkouts(withUnknown, [1, 1, 0], AS_OF);
    expect([...profile.disciplineWeights.keys()]).toEqual([0]);
    expect(profile.topDiscipline).toBe(0);
  });
});
