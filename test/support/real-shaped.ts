/**
 * A small, deterministic generator of "real-shaped" CSV files: what a user exports from a
 * MovieLens-like service rather than what `flywheel seed` makes. Items have a title (some with
 * commas, so quoting matters), `|`-separated multi-valued categories (`Comedy|Romance`), no
 * duration and no creator; interactions are sparse (tens per member, over years), each member
 * rates an item at most once, item popularity is long-tailed, and every member prefers a couple
 * of categories (planted taste, so models have something to learn). Times are whole unix seconds
 * strictly before `end`.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DAY_MS } from '../../model/data/time.ts';
import { rng } from './rng.ts';

/** Genres as MovieLens spells them. */
export const REAL_CATEGORIES = ['Action', 'Adventure', 'Animation', 'Comedy', 'Crime', 'Documentary', 'Drama', 'Horror', 'Romance', 'Sci-Fi', 'Thriller', 'Western'] as const;

export interface RealShapedOptions {
  /** Every interaction is before this instant (and the last one within a few days of it). */
  end: Date;
  /** @defaultValue 1 */
  seed?: number;
  /** @defaultValue 80 */
  members?: number;
  /** @defaultValue 100 */
  items?: number;
  /** Days the interactions spread over, back from `end`. @defaultValue 3 × 365 */
  spanDays?: number;
  /** Interactions per member, inclusive. @defaultValue [20, 40] */
  perMember?: [number, number];
}

export interface RealShapedItem {
  id: string;
  title: string;
  /** One to three single categories (the CSV joins them with `|`). */
  categories: string[];
}

export interface RealShapedInteraction {
  user: string;
  item: string;
  /** 0.5–5 stars, as MovieLens has them (not read by the import). */
  rating: number;
  /** Unix seconds. */
  time: number;
}

export interface RealShapedData {
  items: RealShapedItem[];
  /** Sorted by time, then user. */
  interactions: RealShapedInteraction[];
  /** Each member's favourite categories. */
  favourites: Map<string, string[]>;
}

/** The data set for `options`: the same options give the same data. */
export function realShapedData(options: RealShapedOptions): RealShapedData {
  const random = rng(options.seed ?? 1);
  const memberCount = options.members ?? 80;
  const itemCount = options.items ?? 100;
  const spanMs = (options.spanDays ?? 3 * 365) * DAY_MS;
  const [minPer, maxPer] = options.perMember ?? [20, 40];
  const endMs = options.end.getTime();
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

  const items: RealShapedItem[] = [];
  for (let i = 1; i <= itemCount; i++) {
    const count = random() < 0.45 ? 1 : random() < 0.75 ? 2 : 3;
    const categories: string[] = [];
    while (categories.length < count) {
      const c = pick(REAL_CATEGORIES);
      if (!categories.includes(c)) categories.push(c);
    }
    const year = 1950 + Math.floor(random() * 70);
    // Some titles hold a comma (MovieLens' "Matrix, The (1999)"), so the file needs quoting.
    const title = random() < 0.3 ? `Picture ${i}, The (${year})` : `Picture ${i} (${year})`;
    items.push({ id: String(i), title, categories });
  }
  // Long-tailed popularity, independent of the item's id.
  const appeal = items.map(() => 1 / (1 + Math.floor(random() * itemCount)) ** 0.8);

  const interactions: RealShapedInteraction[] = [];
  const favourites = new Map<string, string[]>();
  for (let u = 1; u <= memberCount; u++) {
    const user = String(u);
    const favourite: string[] = [pick(REAL_CATEGORIES)];
    while (favourite.length < 2) {
      const c = pick(REAL_CATEGORIES);
      if (!favourite.includes(c)) favourite.push(c);
    }
    favourites.set(user, favourite);
    const liked = items.map((item) => item.categories.some((c) => favourite.includes(c)));
    const count = minPer + Math.floor(random() * (maxPer - minPer + 1));
    const taken = new Set<number>();
    const draw = (onlyLiked: boolean): number => {
      let total = 0;
      for (let i = 0; i < itemCount; i++) if (!taken.has(i) && (!onlyLiked || liked[i])) total += appeal[i]!;
      if (total === 0) return -1;
      let r = random() * total;
      for (let i = 0; i < itemCount; i++) {
        if (taken.has(i) || (onlyLiked && !liked[i])) continue;
        r -= appeal[i]!;
        if (r <= 0) return i;
      }
      return -1;
    };
    // A member is active for a stretch of weeks to a year somewhere in the span.
    const activeMs = (30 + Math.floor(random() * 330)) * DAY_MS;
    const startMs = endMs - spanMs + Math.floor(random() * Math.max(1, spanMs - activeMs));
    const times = new Set<number>();
    while (times.size < count) times.add(Math.floor((startMs + random() * activeMs) / 1000));
    for (const time of [...times].sort((a, b) => a - b)) {
      let i = random() < 0.85 ? draw(true) : -1;
      if (i < 0) i = draw(false);
      if (i < 0) break; // the member took every item
      taken.add(i);
      const rating = Math.max(0.5, Math.min(5, Math.round((liked[i] ? 3.5 + random() * 1.5 : 1 + random() * 3) * 2) / 2));
      interactions.push({ user, item: items[i]!.id, rating, time });
    }
  }
  // The data ends just before `end`: one last interaction an hour before it (a member rating
  // an item they had not rated), so the data's end is known to the day.
  const last = interactions.reduce((a, b) => (b.time > a.time ? b : a));
  const lastUserItems = new Set(interactions.filter((x) => x.user === last.user).map((x) => x.item));
  const finalItem = items.find((item) => !lastUserItems.has(item.id))!;
  interactions.push({ user: last.user, item: finalItem.id, rating: 4, time: Math.floor(endMs / 1000) - 3600 });
  interactions.sort((a, b) => a.time - b.time || Number(a.user) - Number(b.user));
  return { items, interactions, favourites };
}

/** The same data with every time moved by `days` whole days and/or every item id prefixed. */
export function transformed(data: RealShapedData, change: { days?: number; itemPrefix?: string }): RealShapedData {
  const shift = (change.days ?? 0) * 86_400;
  const prefix = change.itemPrefix ?? '';
  return {
    items: data.items.map((item) => ({ ...item, id: `${prefix}${item.id}` })),
    interactions: data.interactions.map((x) => ({ ...x, item: `${prefix}${x.item}`, time: x.time + shift })),
    favourites: data.favourites,
  };
}

/** The end of the UTC day of the data's last interaction (epoch ms): where `dataClock` puts the clock. */
export function dataDayEnd(data: RealShapedData): number {
  const last = Math.max(...data.interactions.map((x) => x.time)) * 1000;
  return (Math.floor(last / DAY_MS) + 1) * DAY_MS;
}

function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

function csv(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return [header, ...rows].map((fields) => fields.map(csvField).join(',')).join('\n') + '\n';
}

/**
 * Writes `<dir>/<name>-items.csv` (`movieId,title,genres`) and `<dir>/<name>-ratings.csv`
 * (`userId,movieId,rating,timestamp`, unix seconds), as MovieLens' ml-latest files are laid out.
 */
export async function writeRealShapedCsv(dir: string, name: string, data: RealShapedData): Promise<{ itemsFile: string; interactionsFile: string }> {
  const itemsFile = path.join(dir, `${name}-items.csv`);
  const interactionsFile = path.join(dir, `${name}-ratings.csv`);
  await writeFile(itemsFile, csv(['movieId', 'title', 'genres'], data.items.map((item) => [item.id, item.title, item.categories.join('|')])));
  await writeFile(interactionsFile, csv(['userId', 'movieId', 'rating', 'timestamp'], data.interactions.map((x) => [x.user, x.item, x.rating, x.time])));
  return { itemsFile, interactionsFile };
}

/** The import options that read the files `writeRealShapedCsv` writes (no duration, no creator column). */
export const REAL_ITEMS_COLUMNS = { itemCol: 'movieId', titleCol: 'title', categoryCol: 'genres' } as const;
export const REAL_INTERACTIONS_COLUMNS = { userCol: 'userId', itemCol: 'movieId', timeCol: 'timestamp' } as const;
