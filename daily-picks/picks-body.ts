/**
 * The picks API's response bodies as bytes: a member's cached rows joined with the class
 * metadata (pre-encoded fragments), without parsing the cached JSON into objects and
 * serialising it again — the serving hot path.
 */
import type { CachedMemberPicks } from './picks-cache.ts';
import { ROW_NAMES } from './rows/row-specs.ts';

export interface ClassInfo {
  title: string;
  discipline: string | null;
  durationMin: number | null;
  instructor: string | null;
}

const ROW_ORDER: readonly string[] = ROW_NAMES;

export function orderRows<T extends { row: string }>(rows: T[]): T[] {
  const rank = (row: string) => {
    const i = ROW_ORDER.indexOf(row);
    return i < 0 ? ROW_ORDER.length : i;
  };
  return [...rows].sort((a, b) => rank(a.row) - rank(b.row) || a.row.localeCompare(b.row));
}

/** A pick's JSON up to its score: `{"classId":…,"title":…,"discipline":…,"durationMin":…,"instructor":…,"score":`. */
function classFragment(classId: string, info: ClassInfo | undefined): Buffer {
  return Buffer.from(
    `{"classId":${JSON.stringify(classId)},"title":${JSON.stringify(info?.title ?? null)},"discipline":${JSON.stringify(info?.discipline ?? null)},"durationMin":${JSON.stringify(info?.durationMin ?? null)},"instructor":${JSON.stringify(info?.instructor ?? null)},"score":`,
  );
}

/** Pre-encoded pick fragments of one class-metadata snapshot, by class id (a string or its bytes). */
export class Fragments {
  private readonly byId = new Map<string, Buffer>();
  private readonly byHash = new Map<number, { id: Buffer; fragment: Buffer }[]>();

  constructor(readonly classes: Map<string, ClassInfo>) {}

  forId(classId: string): Buffer {
    let fragment = this.byId.get(classId);
    if (fragment === undefined) {
      fragment = classFragment(classId, this.classes.get(classId));
      this.byId.set(classId, fragment);
    }
    return fragment;
  }

  /** The fragment of the class whose id is the ASCII text `src[start, end)`, without making a string. */
  forBytes(src: Buffer, start: number, end: number): Buffer {
    let hash = 0x811c9dc5; // FNV-1a
    for (let k = start; k < end; k++) hash = Math.imul(hash ^ src[k]!, 0x01000193);
    let bucket = this.byHash.get(hash);
    if (bucket) {
      for (const entry of bucket) {
        const id = entry.id;
        if (id.length !== end - start) continue;
        let same = true;
        for (let k = 0; k < id.length; k++) {
          if (id[k] !== src[start + k]) {
            same = false;
            break;
          }
        }
        if (same) return entry.fragment;
      }
    } else {
      bucket = [];
      this.byHash.set(hash, bucket);
    }
    const fragment = this.forId(src.toString('latin1', start, end));
    bucket.push({ id: Buffer.from(src.subarray(start, end)), fragment });
    return fragment;
  }
}

/** The same text as `JSON.stringify` of the cache-sourced view (from the parsed cache value). */
export function cachedJson(memberId: string, cached: CachedMemberPicks, fragments: Fragments, only?: ReadonlySet<string>): Buffer {
  let out = `{"memberId":${JSON.stringify(memberId)},"source":"cache","modelVersion":${JSON.stringify(cached.modelVersion)},"generatedAt":${JSON.stringify(cached.generatedAt)},"rows":[`;
  let firstRow = true;
  for (const row of cached.rows) {
    if (only && !only.has(row.row)) continue;
    out += `${firstRow ? '' : ','}{"row":${JSON.stringify(row.row)},"picks":[`;
    firstRow = false;
    const picks = row.picks;
    for (let i = 0; i < picks.length; i++) {
      const [classId, score, reason] = picks[i]!;
      out += `${i === 0 ? '' : ','}${fragments.forId(classId).toString()}${JSON.stringify(score)},"reason":${JSON.stringify(reason)}}`;
    }
    out += ']';
    // The experiment's variant that ranked the row, after the picks (as the view puts it).
    if (row.experiment) out += `,"experiment":{"key":${JSON.stringify(row.experiment.key)},"variant":${JSON.stringify(row.experiment.variant)}}`;
    out += '}';
  }
  return Buffer.from(`${out}]}`);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ascii = (text: string) => Buffer.from(text, 'latin1');
const HEAD = [ascii('{"modelVersion":'), ascii(',"generatedAt":'), ascii(',"rows":[')] as const;
const ROW_HEAD = ascii('{"row":');
const PICKS_HEAD = ascii(',"picks":[');
const OUT_SOURCE = ascii(',"source":"cache","modelVersion":');
const OUT_GENERATED = ascii(',"generatedAt":');
const OUT_ROWS = ascii(',"rows":[');
const OUT_REASON = ascii(',"reason":');
const OUT_ROW_END = ascii(']}');
const EXPERIMENT_HEAD = ascii(',"experiment":{"key":');
const VARIANT_HEAD = ascii(',"variant":');

/**
 * Builds the response body straight from the cached value's bytes: the cache holds
 * `JSON.stringify` of a CachedMemberPicks, whose strings and numbers are already in the form
 * `JSON.stringify` gives them in the view, so they are copied through, and each pick's class
 * metadata is a pre-encoded fragment. Byte for byte what `cachedJson` (and `JSON.stringify(get())`)
 * gives; null when the value is not laid out as publish writes it (the caller parses it instead).
 */
export class CachedBodyWriter {
  private out = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;
  private src: Buffer = Buffer.alloc(0);
  private i = 0;

  write(memberId: string, src: Buffer, fragments: Fragments, only?: ReadonlySet<string>): Buffer | null {
    this.src = src;
    this.i = 0;
    this.pos = 0;
    const body = this.body(memberId, fragments, only);
    this.src = Buffer.alloc(0);
    return body;
  }

  private body(memberId: string, fragments: Fragments, only?: ReadonlySet<string>): Buffer | null {
    const src = this.src;
    this.put(Buffer.from(`{"memberId":${JSON.stringify(memberId)}`));
    if (!this.expect(HEAD[0])) return null;
    this.put(OUT_SOURCE);
    if (!this.copyString()) return null;
    if (!this.expect(HEAD[1])) return null;
    this.put(OUT_GENERATED);
    if (!this.copyString()) return null;
    if (!this.expect(HEAD[2])) return null;
    this.put(OUT_ROWS);
    let firstRow = true;
    if (src[this.i] === 0x5d) this.i++; // no rows
    else {
      for (;;) {
        if (!this.expect(ROW_HEAD)) return null;
        const nameStart = this.i;
        if (!this.skipString()) return null;
        const name = JSON.parse(src.toString('utf8', nameStart, this.i)) as string;
        const keep = !only || only.has(name);
        if (keep) {
          if (!firstRow) this.byte(0x2c);
          firstRow = false;
          this.put(ROW_HEAD);
          this.copy(nameStart, this.i);
          this.put(PICKS_HEAD);
        }
        if (!this.expect(PICKS_HEAD)) return null;
        let firstPick = true;
        if (src[this.i] === 0x5d) this.i++;
        else {
          for (;;) {
            if (src[this.i++] !== 0x5b) return null;
            const idStart = this.i;
            const plain = this.skipString();
            if (plain === false) return null;
            const idEnd = this.i;
            if (src[this.i++] !== 0x2c) return null;
            const scoreStart = this.i;
            while (this.i < src.length && isNumberByte(src[this.i]!)) this.i++;
            const scoreEnd = this.i;
            if (scoreEnd === scoreStart || src[this.i++] !== 0x2c) return null;
            const reasonStart = this.i;
            if (!this.skipString()) return null;
            const reasonEnd = this.i;
            if (src[this.i++] !== 0x5d) return null;
            if (keep) {
              if (!firstPick) this.byte(0x2c);
              firstPick = false;
              this.put(plain === 'plain' ? fragments.forBytes(src, idStart + 1, idEnd - 1) : fragments.forId(JSON.parse(src.toString('utf8', idStart, idEnd)) as string));
              this.copy(scoreStart, scoreEnd);
              this.put(OUT_REASON);
              this.copy(reasonStart, reasonEnd);
              this.byte(0x7d);
            }
            const next = src[this.i++];
            if (next === 0x5d) break;
            if (next !== 0x2c) return null;
          }
        }
        // A row an experiment ranked: `,"experiment":{"key":…,"variant":…}`, copied through as it is.
        if (src[this.i] === 0x2c) {
          const experimentStart = this.i;
          if (!this.expect(EXPERIMENT_HEAD) || !this.skipString() || !this.expect(VARIANT_HEAD) || !this.skipString() || src[this.i++] !== 0x7d) return null;
          if (keep) {
            this.byte(0x5d);
            this.copy(experimentStart, this.i);
            this.byte(0x7d);
          }
        } else if (keep) this.put(OUT_ROW_END);
        if (src[this.i++] !== 0x7d) return null;
        const next = src[this.i++];
        if (next === 0x5d) break;
        if (next !== 0x2c) return null;
      }
    }
    if (src[this.i++] !== 0x7d || this.i !== src.length) return null;
    this.byte(0x5d);
    this.byte(0x7d);
    const body = Buffer.allocUnsafe(this.pos);
    this.out.copy(body, 0, 0, this.pos);
    return body;
  }

  private room(n: number): void {
    if (this.pos + n <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + n));
    this.out.copy(grown, 0, 0, this.pos);
    this.out = grown;
  }

  private put(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.out.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private byte(b: number): void {
    this.room(1);
    this.out[this.pos++] = b;
  }

  private copy(start: number, end: number): void {
    this.room(end - start);
    const out = this.out;
    const src = this.src;
    let pos = this.pos;
    for (let k = start; k < end; k++) out[pos++] = src[k]!;
    this.pos = pos;
  }

  private expect(bytes: Uint8Array): boolean {
    const src = this.src;
    if (this.i + bytes.length > src.length) return false;
    for (let k = 0; k < bytes.length; k++) if (src[this.i + k] !== bytes[k]) return false;
    this.i += bytes.length;
    return true;
  }

  /** Copies a JSON string (quotes included) from src to out. */
  private copyString(): boolean {
    const start = this.i;
    if (!this.skipString()) return false;
    this.copy(start, this.i);
    return true;
  }

  /** Skips a JSON string; 'plain' when it is ASCII without escapes (its text is its bytes), else 'escaped'; false when malformed. */
  private skipString(): 'plain' | 'escaped' | false {
    const src = this.src;
    if (src[this.i] !== QUOTE) return false;
    let plain = true;
    for (let k = this.i + 1; k < src.length; k++) {
      const c = src[k]!;
      if (c === QUOTE) {
        this.i = k + 1;
        return plain ? 'plain' : 'escaped';
      }
      if (c === BACKSLASH) {
        plain = false;
        k++;
      } else if (c >= 0x80) plain = false;
    }
    return false;
  }
}

function isNumberByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x2b || c === 0x65 || c === 0x45;
}
