/**
 * The simulated members' app, for `flywheel simulate`: it fetches a member's rows from the picks
 * API (GET /api/v1/members/:id/picks) and reports the picks they clicked to start a class
 * (POST /api/v1/events), over HTTP as a product client would (fetch keeps connections alive).
 */
import type { MemberPicksView } from '../daily-picks/picks-reader.ts';
import type { ServedRow } from '../daily-picks/source/seed-model/responses.ts';

/** The rows the app shows (the `ranked` candidate list is not one). */
const SHOWN_ROWS = 'for_your_usual,quick_workout,something_new';
const HOUR_MS = 3_600_000;
/** Events per POST (the API takes up to 10,000). */
const EVENTS_PER_REQUEST = 5000;

/** What one member was served: the rows, and what the client echoes back in its events. */
export interface ServedPicks {
  rows: ServedRow[];
  modelVersion: string | null;
  experiments: Map<string, { key: string; variant: string }>;
}

/** A class the member started from a row. */
export interface Click {
  memberId: string;
  classId: string;
  row: string;
  /** 1-based. */
  position: number;
  occurredAt: number;
  served: ServedPicks;
}

async function mapLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/**
 * GETs the rows of every member in `servedAt` (member id → serving time), `concurrency` at once.
 * The app's clock is shared by the requests in flight, so it moves in steps: each hour's requests
 * are served at the first serving time of that hour (never after any of them). A failed request
 * leaves the member with no rows (they do their organic workout) and is counted.
 */
export async function fetchPicks(base: string, servedAt: Map<string, number>, setClock: (ms: number) => void, concurrency: number) {
  const served = new Map<string, ServedPicks>();
  let failed = 0;
  let firstError: string | null = null;
  const order = [...servedAt.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  for (let from = 0; from < order.length; ) {
    const hour = Math.floor(order[from]![1] / HOUR_MS);
    let to = from;
    while (to < order.length && Math.floor(order[to]![1] / HOUR_MS) === hour) to += 1;
    setClock(order[from]![1]);
    await mapLimit(order.slice(from, to), concurrency, async ([memberId]) => {
      try {
        const response = await fetch(`${base}/api/v1/members/${encodeURIComponent(memberId)}/picks?rows=${SHOWN_ROWS}`);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const view = (await response.json()) as MemberPicksView;
        const experiments = new Map<string, { key: string; variant: string }>();
        for (const r of view.rows) if (r.experiment) experiments.set(r.row, r.experiment);
        served.set(memberId, { rows: view.rows.map((r) => ({ row: r.row, classIds: r.picks.map((p) => p.classId) })), modelVersion: view.modelVersion, experiments });
      } catch (error) {
        failed += 1;
        firstError ??= `GET picks of ${memberId}: ${(error as Error).message}`;
        served.set(memberId, { rows: [], modelVersion: null, experiments: new Map() });
      }
    });
    from = to;
  }
  return { served, failed, firstError };
}

/** POSTs the day's clicks as client events (ids derived from member, time and place: a retry counts once). Returns how many the API did not take. */
export async function postClicks(base: string, clicks: readonly Click[]): Promise<{ failed: number; firstError: string | null }> {
  let failed = 0;
  let firstError: string | null = null;
  for (let from = 0; from < clicks.length; from += EVENTS_PER_REQUEST) {
    const batch = clicks.slice(from, from + EVENTS_PER_REQUEST);
    const events = batch.map((c) => {
      const experiment = c.served.experiments.get(c.row);
      return {
        eventId: `sim-${c.memberId}-${new Date(c.occurredAt).toISOString()}-${c.row}-${c.position}`,
        type: 'click',
        memberId: c.memberId,
        classId: c.classId,
        row: c.row,
        position: c.position,
        occurredAt: new Date(c.occurredAt).toISOString(),
        modelVersion: c.served.modelVersion,
        ...(experiment ? { experimentKey: experiment.key, variant: experiment.variant } : {}),
      };
    });
    try {
      const response = await fetch(`${base}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
      if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    } catch (error) {
      failed += batch.length;
      firstError ??= `POST events: ${(error as Error).message.slice(0, 300)}`;
    }
  }
  return { failed, firstError };
}
