import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Catalogue } from './catalogue.ts';
import { numberColumn, readArrowBatches, stringColumn } from './arrow-files.ts';
import { DAY_MS } from './time.ts';

export interface HistoryRequest {
  workoutsDir: string;
  membersFile: string;
  asOf: Date;
  /** Only workouts this many days before `windowEnd`; `null` = all. */
  historyWindowDays: number | null;
  /** Where the window counts back from (the data's clock, see `dataClock`). @defaultValue asOf */
  windowEnd?: Date;
}

/**
 * Every member's workouts up to the as-of time, in time order, as compressed sparse rows:
 * member `m`'s workouts are `classIdx[offsets[m]] … classIdx[offsets[m + 1] - 1]`.
 * Members are those of the snapshot, then any known only from workouts.
 */
export class History {
  readonly memberIndex = new Map<string, number>();

  private constructor(
    readonly memberIds: string[],
    readonly signupAt: Float64Array,
    readonly offsets: Int32Array,
    readonly classIdx: Int32Array,
    readonly startedAt: Float64Array,
    /** Workouts of classes missing from the catalogue (skipped). */
    readonly unknownClassWorkouts: number,
  ) {
    memberIds.forEach((id, i) => this.memberIndex.set(id, i));
  }

  get memberCount(): number {
    return this.memberIds.length;
  }

  get workoutCount(): number {
    return this.classIdx.length;
  }

  workoutsOf(member: number): { start: number; end: number } {
    return { start: this.offsets[member]!, end: this.offsets[member + 1]! };
  }

  /** Time of the member's last workout, or NaN. */
  lastActive(member: number): number {
    const end = this.offsets[member + 1]!;
    return end > this.offsets[member]! ? this.startedAt[end - 1]! : Number.NaN;
  }

  /**
   * A history from columns already in CSR form (tests, in-memory data): member `m`'s workouts
   * are `offsets[m] … offsets[m + 1] - 1`, in time order. Signups are unknown (NaN).
   */
  static fromArrays(memberIds: string[], offsets: Int32Array, classIdx: Int32Array, startedAt: Float64Array): History {
    if (offsets.length !== memberIds.length + 1 || offsets[0] !== 0 || offsets[memberIds.length] !== classIdx.length || startedAt.length !== classIdx.length) {
      throw new Error('History.fromArrays: offsets must run from 0 to the workout count, one more than the members, and classIdx/startedAt must have equal length');
    }
    return new History(memberIds, new Float64Array(memberIds.length).fill(Number.NaN), offsets, classIdx, startedAt, 0);
  }

  static async load(catalogue: Catalogue, request: HistoryRequest): Promise<History> {
    const memberIds: string[] = [];
    const signup: number[] = [];
    const memberIndex = new Map<string, number>();
    for await (const batch of readArrowBatches(request.membersFile)) {
      const ids = stringColumn(batch, 'member_id');
      const signups = numberColumn<Float64Array>(batch, 'signup_at');
      for (let i = 0; i < ids.length; i++) {
        memberIndex.set(ids[i]!, memberIds.length);
        memberIds.push(ids[i]!);
        signup.push(signups[i]!);
      }
    }
    const asOf = request.asOf.getTime();
    const from = request.historyWindowDays === null ? Number.NEGATIVE_INFINITY : (request.windowEnd?.getTime() ?? asOf) - request.historyWindowDays * DAY_MS;
    const files = (await readdir(request.workoutsDir).catch(() => [] as string[]))
      .map((name) => /^day=(\d{4}-\d{2}-\d{2})\.arrow$/.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .filter((m) => {
        const dayStart = Date.parse(`${m[1]}T00:00:00.000Z`);
        return dayStart < asOf && dayStart + DAY_MS > from;
      })
      .sort((a, b) => a[1]!.localeCompare(b[1]!))
      .map((m) => path.join(request.workoutsDir, m[0]));

    let members: Int32Array<ArrayBuffer> = new Int32Array(1 << 16);
    let classes: Int32Array<ArrayBuffer> = new Int32Array(1 << 16);
    let times = new Float64Array(1 << 16);
    let count = 0;
    let unknownClassWorkouts = 0;
    for (const file of files) {
      for await (const batch of readArrowBatches(file)) {
        const memberCol = stringColumn(batch, 'member_id');
        const classCol = stringColumn(batch, 'class_id');
        const started = numberColumn<Float64Array>(batch, 'started_at');
        if (count + batch.numRows > members.length) {
          const size = Math.max(members.length * 2, count + batch.numRows);
          members = grow(members, size);
          classes = grow(classes, size);
          const t = new Float64Array(size);
          t.set(times);
          times = t;
        }
        for (let i = 0; i < batch.numRows; i++) {
          const at = started[i]!;
          if (at >= asOf || at < from) continue;
          const c = catalogue.index.get(classCol[i]!);
          if (c === undefined) {
            unknownClassWorkouts += 1;
            continue;
          }
          const memberId = memberCol[i]!;
          let m = memberIndex.get(memberId);
          if (m === undefined) {
            m = memberIds.length;
            memberIndex.set(memberId, m);
            memberIds.push(memberId);
            signup.push(Number.NaN);
          }
          members[count] = m;
          classes[count] = c;
          times[count] = at;
          count += 1;
        }
      }
    }
    // Counting sort by member; files are read in day order and rows within a day in time order,
    // so each member's workouts stay in time order.
    const offsets = new Int32Array(memberIds.length + 1);
    for (let i = 0; i < count; i++) offsets[members[i]! + 1]! += 1;
    for (let m = 0; m < memberIds.length; m++) offsets[m + 1]! += offsets[m]!;
    const cursor = offsets.slice(0, memberIds.length);
    const classIdx = new Int32Array(count);
    const startedAt = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const at = cursor[members[i]!]!++;
      classIdx[at] = classes[i]!;
      startedAt[at] = times[i]!;
    }
    return new History(memberIds, Float64Array.from(signup), offsets, classIdx, startedAt, unknownClassWorkouts);
  }
}

function grow(array: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const next = new Int32Array(size);
  next.set(array);
  return next;
}
