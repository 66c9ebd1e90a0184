/**
 * Client events (`POST /api/v1/events`): impressions and clicks a client reports for the rows it
 * rendered. A batch is checked whole before anything is written, then lands in one statement (all
 * or nothing). Idempotent: the event id is the key (with the day), so a retried batch counts once;
 * an impression event that is new also becomes a row of `feedback.impression` (source `client`).
 */
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../core/db/client.ts';
import { experiments as experimentTable } from '../../core/db/schema/experiment.ts';
import { FlywheelError } from '../../core/errors.ts';
import { EXPERIMENT_KEY_FORMAT, experimentStatus, toExperiment, variantOf, type Experiment } from '../experiments/experiment.ts';
import { ROW_NAMES } from '../rows/row-specs.ts';
import { sourceIdProblem } from '../source/ids.ts';
import { DAY_MS, utcDay } from '../../model/data/time.ts';
import { ensureFeedbackPartitions } from './partitions.ts';

/** The most events one request may carry. */
export const MAX_EVENTS_PER_BATCH = 10_000;

const sourceId = z.string().superRefine((value, ctx) => {
  const problem = sourceIdProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const eventSchema = z
  .object({
    eventId: z.string().min(1).max(200).regex(/^[^\p{Cc}]*$/u, 'contains a control character'),
    type: z.enum(['impression', 'click']),
    memberId: sourceId,
    classId: sourceId,
    row: z.enum(ROW_NAMES),
    /** 1-based, as in the response's `picks` arrays. */
    position: z.number().int().min(1).max(10_000),
    occurredAt: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone (e.g. 2026-05-01T07:30:00Z)' }),
    publicationId: z.number().int().positive().nullish(),
    modelVersion: z.string().min(1).max(200).nullish(),
    experimentKey: z.string().regex(EXPERIMENT_KEY_FORMAT, 'is not an experiment key').nullish(),
    variant: z.string().min(1).max(200).nullish(),
  })
  .superRefine((event, ctx) => {
    if ((event.experimentKey == null) !== (event.variant == null)) {
      ctx.addIssue({ code: 'custom', path: [event.experimentKey == null ? 'experimentKey' : 'variant'], message: 'experimentKey and variant go together' });
    }
  });

const batchSchema = z.object({ events: z.array(eventSchema).min(1, 'needs at least one event').max(MAX_EVENTS_PER_BATCH, `at most ${MAX_EVENTS_PER_BATCH} events per request`) });

/** One client event, as checked. */
export type ClientEvent = z.infer<typeof eventSchema>;

/** `events[3].position` for the path `['events', 3, 'position']`. */
function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${String(part)}`;
  return out;
}

/**
 * A request body `{ "events": [...] }` checked: the events, or a FlywheelError `invalid` (400)
 * naming the first few bad events and fields (`events[3].position: …`).
 */
export function parseEventBatch(body: unknown): ClientEvent[] {
  const parsed = batchSchema.safeParse(body ?? {});
  if (parsed.success) return parsed.data.events;
  const issues = parsed.error.issues;
  const shown = issues.slice(0, 5).map((issue) => (issue.path.length > 0 ? `${pathText(issue.path)}: ${issue.message}` : issue.message));
  throw new FlywheelError('invalid', `${shown.join('; ')}${issues.length > shown.length ? `; and ${issues.length - shown.length} more` : ''}`);
}

/** The experiments events are checked against, read at most every `ttlMs` (default 1 s). */
export class ExperimentList {
  private cached: { list: Experiment[]; at: number } | null = null;
  private loading: Promise<Experiment[]> | null = null;

  constructor(
    private readonly db: Database,
    private readonly ttlMs = 1000,
  ) {}

  async get(): Promise<Experiment[]> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.ttlMs) return this.cached.list;
    this.loading ??= (async () => {
      // All of them (a handful): an event is matched to what was running when it occurred.
      const rows = await this.db.select().from(experimentTable).orderBy(experimentTable.startAt, experimentTable.key);
      const list = rows.map(toExperiment);
      this.cached = { list, at: Date.now() };
      return list;
    })().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }
}

const lists = new WeakMap<Database, ExperimentList>();

export interface IngestOptions {
  /** Now, for the retention and future checks. @defaultValue () => new Date() */
  clock?: () => Date;
  /** Events older than this many days are refused (`FLYWHEEL_FEEDBACK_RETENTION_DAYS`). @defaultValue 90 */
  retentionDays?: number;
  /** Where experiments are looked up. @defaultValue one list per database handle, re-read every second */
  experiments?: ExperimentList;
}

export interface IngestResult {
  /** Events stored by this call. */
  accepted: number;
  /** Events already stored (a retried batch, or an id repeated within the batch). */
  duplicates: number;
}

/**
 * Stores a checked batch. Refuses it whole (FlywheelError `invalid`) when an event occurred
 * before the retention or more than a day ahead. An event without an experiment, in a row an
 * experiment running at its time covers, gets that experiment and the member's variant (by hash).
 */
export async function ingestEvents(db: Database, events: readonly ClientEvent[], options: IngestOptions = {}): Promise<IngestResult> {
  if (events.length === 0) return { accepted: 0, duplicates: 0 };
  const now = (options.clock ?? (() => new Date()))().getTime();
  const retentionDays = options.retentionDays ?? 90;
  const oldest = now - retentionDays * DAY_MS;
  const latest = now + DAY_MS;
  const occurred = new Array<number>(events.length);
  let minMs = Number.POSITIVE_INFINITY;
  let maxMs = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < events.length; i++) {
    const ms = Date.parse(events[i]!.occurredAt);
    if (ms < oldest) throw new FlywheelError('invalid', `events[${i}].occurredAt: is older than the retention of ${retentionDays} days`);
    if (ms > latest) throw new FlywheelError('invalid', `events[${i}].occurredAt: is more than a day in the future`);
    occurred[i] = ms;
    if (ms < minMs) minMs = ms;
    if (ms > maxMs) maxMs = ms;
  }
  let running: Experiment[] | null = null;
  const columns = {
    day: [] as string[], id: [] as string[], type: [] as string[], member: [] as string[], cls: [] as string[], row: [] as string[], position: [] as number[],
    publication: [] as (number | null)[], version: [] as (string | null)[], key: [] as (string | null)[], variant: [] as (string | null)[], occurredAt: [] as string[],
  };
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    let key = event.experimentKey ?? null;
    let variant = event.variant ?? null;
    if (key === null) {
      running ??= await (options.experiments ?? listFor(db)).get();
      const at = new Date(occurred[i]!);
      // Live experiments never share a row: the first that covers it is the one.
      const experiment = running.find((e) => e.rows.includes(event.row) && experimentStatus(e, at) === 'running');
      if (experiment) {
        key = experiment.key;
        variant = variantOf(experiment, event.memberId).key;
      }
    }
    columns.day.push(utcDay(occurred[i]!));
    columns.id.push(event.eventId);
    columns.type.push(event.type);
    columns.member.push(event.memberId);
    columns.cls.push(event.classId);
    columns.row.push(event.row);
    columns.position.push(event.position);
    columns.publication.push(event.publicationId ?? null);
    columns.version.push(event.modelVersion ?? null);
    columns.key.push(key);
    columns.variant.push(variant);
    columns.occurredAt.push(event.occurredAt);
  }
  // Outside the statement: creating a partition locks its parent until commit.
  await ensureFeedbackPartitions(db, utcDay(minMs), utcDay(maxMs));
  const c = columns;
  // One statement, so one transaction: the batch lands whole or not at all.
  const result = await db.execute<{ accepted: number }>(sql`
    with ins as (
      insert into feedback.event (day, event_id, type, member_id, class_id, row, position, publication_id, model_version, experiment_key, variant, occurred_at)
      select * from unnest(${sql.param(c.day)}::date[], ${sql.param(c.id)}::text[], ${sql.param(c.type)}::text[], ${sql.param(c.member)}::text[], ${sql.param(c.cls)}::text[],
                           ${sql.param(c.row)}::text[], ${sql.param(c.position)}::int[], ${sql.param(c.publication)}::bigint[], ${sql.param(c.version)}::text[],
                           ${sql.param(c.key)}::text[], ${sql.param(c.variant)}::text[], ${sql.param(c.occurredAt)}::timestamptz[])
      on conflict (day, event_id) do nothing
      returning day, type, member_id, class_id, row, position, publication_id, model_version, experiment_key, variant, occurred_at
    ), impressions as (
      insert into feedback.impression (day, served_at, member_id, row, position, class_id, publication_id, model_version, experiment_key, variant, source)
      select day, occurred_at, member_id, row, position, class_id, publication_id, model_version, experiment_key, variant, 'client' from ins where type = 'impression'
      on conflict do nothing
    )
    select count(*)::int as accepted from ins`);
  const accepted = Number(result.rows[0]?.accepted ?? 0);
  return { accepted, duplicates: events.length - accepted };
}

function listFor(db: Database): ExperimentList {
  let list = lists.get(db);
  if (!list) lists.set(db, (list = new ExperimentList(db)));
  return list;
}
