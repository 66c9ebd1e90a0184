/**
 * The per-member holdout of `bench:quality`: reads an interactions CSV (the columns and time
 * formats `flywheel import interactions` accepts, read by the same reader), holds out the last
 * share of each member's interactions by time, and writes the rest to a CSV to import.
 *
 * The rule: a member's interactions are ordered by time (ties by their order in the file); a
 * member with at least `minInteractions` holds out the last floor(n · percent / 100) of them
 * (at least 1 with the defaults, 20% of n ≥ 5); a member with fewer keeps them all in training
 * and is not evaluated.
 */
import { BadRows, openCsv } from '../../daily-picks/source/csv-reader.ts';
import { readInteractionRow } from '../../daily-picks/source/import-csv.ts';
import { CsvFileWriter } from './csv-write.ts';

export interface InteractionColumns {
  userCol: string;
  itemCol: string;
  timeCol: string;
}

export interface HoldoutRule {
  /** Share of each member's interactions held out, in percent (1–99). */
  percent: number;
  /** Members with fewer interactions keep them all in training. */
  minInteractions: number;
}

/** One member's held-out part, in time order. */
export interface HeldOutMember {
  memberId: string;
  /** Item ids held out, in time order (repeats kept). */
  items: string[];
  /** Item ids of the member's training part (distinct). */
  trainItems: Set<string>;
}

export interface MemberHoldout {
  /** Data rows read. */
  rows: number;
  members: number;
  trainRows: number;
  heldOutRows: number;
  /** Members with a held-out part, in order of first appearance in the file. */
  heldOut: HeldOutMember[];
  /** Time range of the training part, in unix seconds (NaN when empty). */
  trainFirst: number;
  trainLast: number;
  /** Time range of the held-out part. */
  heldOutFirst: number;
  heldOutLast: number;
}

/** The columns of the training CSV `splitInteractions` writes. */
export const TRAIN_COLUMNS = { userCol: 'user', itemCol: 'item', timeCol: 'time' } as const;

/**
 * Reads `file`, splits it by `rule` and writes the training part to `trainFile` (columns
 * TRAIN_COLUMNS, the raw cells as they were, rows in file order). Any bad row (no id, a time the
 * import would refuse) fails the whole read with every bad line listed, as the import would.
 */
export async function splitInteractions(file: string, columns: InteractionColumns, rule: HoldoutRule, trainFile: string): Promise<MemberHoldout> {
  const csv = await openCsv(file, {
    user: { flag: '--user-col', name: columns.userCol },
    item: { flag: '--item-col', name: columns.itemCol },
    time: { flag: '--time-col', name: columns.timeCol },
  });
  const bad = new BadRows();
  const nowMs = Date.now();
  const users: string[] = [];
  const items: string[] = [];
  const rawTimes: string[] = [];
  let seconds = new Float64Array(1 << 16);
  for await (const row of csv.rows) {
    if ('error' in row) {
      bad.add(row.line, row.error);
      break;
    }
    if (row.problem !== undefined) {
      bad.add(row.line, row.problem);
      continue;
    }
    const read = readInteractionRow(row.fields, csv.index, columns, nowMs);
    if ('problem' in read) {
      bad.add(row.line, read.problem);
      continue;
    }
    if (bad.count > 0) continue;
    if (users.length === seconds.length) {
      const grown = new Float64Array(seconds.length * 2);
      grown.set(seconds);
      seconds = grown;
    }
    seconds[users.length] = read.seconds;
    users.push(read.user);
    items.push(read.item);
    rawTimes.push(read.rawTime);
  }
  if (bad.count > 0) bad.fail(file);
  const n = users.length;

  // Rows of each member, in file order.
  const byMember = new Map<string, number[]>();
  for (let r = 0; r < n; r++) {
    let rows = byMember.get(users[r]!);
    if (!rows) byMember.set(users[r]!, (rows = []));
    rows.push(r);
  }
  const heldOutRow = new Uint8Array(n);
  const heldOut: HeldOutMember[] = [];
  for (const [memberId, rows] of byMember) {
    const k = rows.length >= rule.minInteractions ? Math.floor((rows.length * rule.percent) / 100) : 0;
    if (k === 0) continue;
    // Stable: equal times keep file order.
    const ordered = [...rows].sort((a, b) => seconds[a]! - seconds[b]! || a - b);
    const cut = ordered.length - k;
    const trainItems = new Set<string>();
    for (let i = 0; i < cut; i++) trainItems.add(items[ordered[i]!]!);
    const held: string[] = [];
    for (let i = cut; i < ordered.length; i++) {
      heldOutRow[ordered[i]!] = 1;
      held.push(items[ordered[i]!]!);
    }
    heldOut.push({ memberId, items: held, trainItems });
  }

  const writer = new CsvFileWriter(trainFile, [TRAIN_COLUMNS.userCol, TRAIN_COLUMNS.itemCol, TRAIN_COLUMNS.timeCol]);
  const range = { trainFirst: Infinity, trainLast: -Infinity, heldOutFirst: Infinity, heldOutLast: -Infinity };
  let heldOutRows = 0;
  for (let r = 0; r < n; r++) {
    const t = seconds[r]!;
    if (heldOutRow[r] === 1) {
      heldOutRows += 1;
      range.heldOutFirst = Math.min(range.heldOutFirst, t);
      range.heldOutLast = Math.max(range.heldOutLast, t);
      continue;
    }
    range.trainFirst = Math.min(range.trainFirst, t);
    range.trainLast = Math.max(range.trainLast, t);
    await writer.write([users[r]!, items[r]!, rawTimes[r]!]);
  }
  await writer.close();
  const finite = (v: number) => (Number.isFinite(v) ? v : Number.NaN);
  return {
    rows: n,
    members: byMember.size,
    trainRows: n - heldOutRows,
    heldOutRows,
    heldOut,
    trainFirst: finite(range.trainFirst),
    trainLast: finite(range.trainLast),
    heldOutFirst: finite(range.heldOutFirst),
    heldOutLast: finite(range.heldOutLast),
  };
}
