/**
 * MovieLens → the CSV files `flywheel import` and `bench:quality` read:
 *
 *   node --import ./core/loader/register.js bench/support/movielens-csv.ts <movielens-dir> <out-dir>
 *
 * writes `<out-dir>/interactions.csv` (user,item,time,rating; time in unix seconds, as the files
 * have it) and `<out-dir>/items.csv` (item,title,genres; genres joined with `|`, empty when none
 * is listed; fields quoted as RFC 4180 wants, so titles with commas and quotes survive).
 *
 * Understands the layouts GroupLens publishes (https://grouplens.org/datasets/movielens/):
 * - ml-100k: `u.data` (tab-separated user, item, rating, time; no header) and `u.item`
 *   (`|`-separated id, title, release date, video release date, IMDb URL, then 19 genre flags,
 *   named by `u.genre` when present; Latin-1);
 * - ml-1m, ml-10m: `ratings.dat` (`user::item::rating::time`) and `movies.dat`
 *   (`id::title::genres`, genres `|`-separated; Latin-1 in ml-1m);
 * - ml-latest, ml-latest-small, ml-20m, ml-25m, ml-32m: `ratings.csv`
 *   (userId,movieId,rating,timestamp) and `movies.csv` (movieId,title,genres), with headers.
 * Every rating counts as an interaction (implicit feedback: the member watched the film).
 * Text files are read as UTF-8, or as Latin-1 when they are not valid UTF-8.
 */
import { createReadStream } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parse } from 'csv-parse/sync';
import { CsvFileWriter } from './csv-write.ts';

export type MovieLensLayout = 'ml-100k' | 'dat' | 'csv';

/** The 19 genres of ml-100k's `u.item` flags, in column order (its `u.genre`). */
export const ML_100K_GENRES = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

export interface ConvertSummary {
  layout: MovieLensLayout;
  interactionsFile: string;
  itemsFile: string;
  interactions: number;
  users: number;
  items: number;
  /** Time range of the interactions (ISO 8601). */
  firstAt: string | null;
  lastAt: string | null;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Which MovieLens layout `dir` holds, by its files. */
export async function detectLayout(dir: string): Promise<MovieLensLayout> {
  if ((await exists(path.join(dir, 'u.data'))) && (await exists(path.join(dir, 'u.item')))) return 'ml-100k';
  if ((await exists(path.join(dir, 'ratings.dat'))) && (await exists(path.join(dir, 'movies.dat')))) return 'dat';
  if ((await exists(path.join(dir, 'ratings.csv'))) && (await exists(path.join(dir, 'movies.csv')))) return 'csv';
  throw new Error(`${dir} holds no MovieLens data set: expected u.data + u.item (ml-100k), ratings.dat + movies.dat (ml-1m, ml-10m) or ratings.csv + movies.csv (ml-latest, ml-20m, ml-25m)`);
}

/** A small text file as UTF-8, or Latin-1 when it is not valid UTF-8 (ml-100k, ml-1m). */
async function readText(file: string): Promise<string> {
  const bytes = await readFile(file);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return new TextDecoder('latin1').decode(bytes);
  }
}

function lines(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim() !== '');
}

/** Streams a ratings file line by line (they are ASCII: ids, ratings, times), with its line numbers. */
async function* ratingLines(file: string): AsyncGenerator<{ line: number; text: string }> {
  const reader = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let line = 0;
  for await (const text of reader) {
    line += 1;
    if (text.trim() !== '') yield { line, text };
  }
}

type Rating = { user: string; item: string; time: string; rating: string };

async function* ratings(dir: string, layout: MovieLensLayout): AsyncGenerator<Rating> {
  const file = path.join(dir, layout === 'ml-100k' ? 'u.data' : layout === 'dat' ? 'ratings.dat' : 'ratings.csv');
  let columns: { user: number; item: number; rating: number; time: number } | null = layout === 'csv' ? null : { user: 0, item: 1, rating: 2, time: 3 };
  for await (const { line, text } of ratingLines(file)) {
    const fields = layout === 'ml-100k' ? text.split('\t') : layout === 'dat' ? text.split('::') : text.split(',');
    if (columns === null) {
      // ratings.csv's header: userId,movieId,rating,timestamp.
      const at = (name: string) => {
        const i = fields.findIndex((f) => f.trim().replace(/^"|"$/g, '') === name);
        if (i < 0) throw new Error(`${file}: line 1: no column "${name}" in the header ${JSON.stringify(text)}`);
        return i;
      };
      columns = { user: at('userId'), item: at('movieId'), rating: at('rating'), time: at('timestamp') };
      continue;
    }
    const user = fields[columns.user]?.trim();
    const item = fields[columns.item]?.trim();
    const rating = fields[columns.rating]?.trim();
    const time = fields[columns.time]?.trim();
    if (!user || !item || !time || !/^\d+$/.test(time)) throw new Error(`${file}: line ${line}: expected user, item, rating and a unix time, got ${JSON.stringify(text)}`);
    yield { user, item, time, rating: rating ?? '' };
  }
}

type Movie = { item: string; title: string; genres: string };

async function movies(dir: string, layout: MovieLensLayout): Promise<Movie[]> {
  if (layout === 'ml-100k') {
    const genreFile = path.join(dir, 'u.genre');
    let genres = ML_100K_GENRES;
    if (await exists(genreFile)) {
      // `name|index` per line.
      const named = lines(await readText(genreFile)).map((l) => l.split('|'));
      if (named.every((p) => p.length === 2 && Number(p[1]) >= 0)) {
        genres = [];
        for (const [name, index] of named) genres[Number(index)] = name!;
      }
    }
    const file = path.join(dir, 'u.item');
    return lines(await readText(file)).map((text, i) => {
      const fields = text.split('|');
      if (fields.length < 5 + genres.length) throw new Error(`${file}: line ${i + 1}: expected ${5 + genres.length} |-separated fields, got ${fields.length}`);
      const flags = fields.slice(fields.length - genres.length);
      // A title never holds `|` in the published files; if one did, the fields between id and the dates are its parts.
      const title = fields.slice(1, fields.length - genres.length - 3).join('|');
      return { item: fields[0]!.trim(), title, genres: genres.filter((_, g) => flags[g]?.trim() === '1').join('|') };
    });
  }
  if (layout === 'dat') {
    const file = path.join(dir, 'movies.dat');
    return lines(await readText(file)).map((text, i) => {
      const fields = text.split('::');
      if (fields.length < 3) throw new Error(`${file}: line ${i + 1}: expected id::title::genres, got ${JSON.stringify(text)}`);
      return { item: fields[0]!.trim(), title: fields.slice(1, -1).join('::'), genres: cleanGenres(fields[fields.length - 1]!) };
    });
  }
  const file = path.join(dir, 'movies.csv');
  const records = parse<Record<string, string>>(await readText(file), { columns: true, bom: true, skip_empty_lines: true });
  return records.map((r, i) => {
    if (r.movieId === undefined || r.title === undefined) throw new Error(`${file}: record ${i + 1}: expected the columns movieId, title, genres`);
    return { item: r.movieId.trim(), title: r.title, genres: cleanGenres(r.genres ?? '') };
  });
}

function cleanGenres(genres: string): string {
  const value = genres.trim();
  return value === '(no genres listed)' ? '' : value;
}

/** Converts the data set in `dir` into `outDir/interactions.csv` and `outDir/items.csv`. */
export async function convertMovieLens(dir: string, outDir: string): Promise<ConvertSummary> {
  const layout = await detectLayout(dir);
  await mkdir(outDir, { recursive: true });
  const itemsFile = path.join(outDir, 'items.csv');
  const interactionsFile = path.join(outDir, 'interactions.csv');
  const items = new CsvFileWriter(itemsFile, ['item', 'title', 'genres']);
  const list = await movies(dir, layout);
  for (const movie of list) await items.write([movie.item, movie.title, movie.genres]);
  await items.close();
  const interactions = new CsvFileWriter(interactionsFile, ['user', 'item', 'time', 'rating']);
  const users = new Set<string>();
  let first = Infinity;
  let last = -Infinity;
  for await (const r of ratings(dir, layout)) {
    users.add(r.user);
    const t = Number(r.time);
    if (t < first) first = t;
    if (t > last) last = t;
    await interactions.write([r.user, r.item, r.time, r.rating]);
  }
  await interactions.close();
  const iso = (t: number) => (Number.isFinite(t) ? new Date(t * 1000).toISOString() : null);
  return { layout, interactionsFile, itemsFile, interactions: interactions.rows, users: users.size, items: items.rows, firstAt: iso(first), lastAt: iso(last) };
}

const USAGE = `usage: node --import ./core/loader/register.js bench/support/movielens-csv.ts <movielens-dir> <out-dir>

Writes <out-dir>/interactions.csv (user,item,time,rating) and <out-dir>/items.csv
(item,title,genres) from a MovieLens folder (ml-100k, ml-1m, ml-10m, ml-latest-small, ml-25m, …),
then prints the bench:quality command for them.`;

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
  } else if (args.length !== 2 || args.some((a) => a.startsWith('-'))) {
    process.stderr.write(`${USAGE}\n`);
    process.exitCode = 2;
  } else {
    try {
      const s = await convertMovieLens(args[0]!, args[1]!);
      process.stdout.write(
        [
          `${s.layout === 'ml-100k' ? 'ml-100k' : s.layout === 'dat' ? 'MovieLens .dat' : 'MovieLens .csv'} → ${s.interactionsFile} (${s.interactions} interactions of ${s.users} users, ${s.firstAt} … ${s.lastAt}), ${s.itemsFile} (${s.items} items)`,
          'run:',
          `  npm run bench:quality -- --interactions ${s.interactionsFile} --user-col user --item-col item --time-col time --items ${s.itemsFile} --title-col title --category-col genres`,
        ].join('\n') + '\n',
      );
    } catch (error) {
      process.stderr.write(`movielens-csv: ${(error as Error).message}\n`);
      process.exitCode = 1;
    }
  }
}
