/**
 * `POST /api/v1/events` through the web app (public, no session): a batch lands whole and once
 * (a retried batch counts its events as duplicates), a bad event is a 400 naming the event and the
 * field with nothing of its batch stored, events past the retention or too far ahead are refused,
 * and an event in an experiment's row without a variant gets the member's (by hash).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { experiments } from '../../core/db/schema/experiment.ts';
import { variantOf } from '../../daily-picks/experiments/experiment.ts';
import { ingestEvents, parseEventBatch } from '../../daily-picks/feedback/events.ts';
import { json, WebFixture } from './web-support.ts';

const HOUR = 3_600_000;

interface EventBody {
  eventId: string;
  type: 'impression' | 'click';
  memberId: string;
  classId: string;
  row: string;
  position: number;
  occurredAt: string;
  publicationId?: number;
  modelVersion?: string;
  experimentKey?: string;
  variant?: string;
}

const event = (overrides: Partial<EventBody> = {}): EventBody => ({
  eventId: randomUUID(),
  type: 'impression',
  memberId: 'm1',
  classId: 'c1',
  row: 'for_your_usual',
  position: 1,
  occurredAt: new Date(Date.now() - HOUR).toISOString(),
  ...overrides,
});

describe('POST /api/v1/events', { timeout: 60_000 }, () => {
  let web: WebFixture;
  const EXPERIMENT = { key: 'usual-test', variants: [{ key: 'heuristics', weight: 50 }, { key: 'model', weight: 50 }], rows: ['for_your_usual'] };
  const post = async (body: unknown) => {
    const res = await fetch(`${web.api}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await json<{ accepted?: number; duplicates?: number; error?: string }>(res) };
  };
  const query = async <R extends Record<string, unknown>>(text: string, values: unknown[] = []) => (await web.harness.runtime.database.pool.query<R>(text, values)).rows;
  const stored = async (ids: string[]) =>
    query<{ event_id: string; type: string; experiment_key: string | null; variant: string | null }>(
      'select event_id, type, experiment_key, variant from feedback.event where event_id = any($1) order by event_id',
      [ids],
    );

  beforeAll(async () => {
    web = await WebFixture.start({ scheduler: false, workers: {} });
    // Before any request: the API reads the experiments at most once a second.
    await web.harness.db.insert(experiments).values({ ...EXPERIMENT, startAt: new Date(Date.now() - 30 * 24 * HOUR), createdBy: 'test' });
  });
  afterAll(async () => {
    await web?.close();
  });

  it('stores a batch once: a retried batch counts as duplicates, and impression events become impressions', async () => {
    const batch = [
      event({ memberId: 'a1', classId: 'k1', row: 'quick_workout', position: 2 }),
      event({ memberId: 'a1', classId: 'k2', row: 'quick_workout', position: 3, publicationId: 7, modelVersion: 'v7' }),
      event({ memberId: 'a1', classId: 'k1', row: 'quick_workout', position: 2, type: 'click' }),
    ];
    expect(await post({ events: batch })).toEqual({ status: 200, body: { accepted: 3, duplicates: 0 } });
    expect(await post({ events: batch })).toEqual({ status: 200, body: { accepted: 0, duplicates: 3 } });
    // Half new, half retried; and an id twice in one batch counts once.
    const fresh = event({ memberId: 'a1', classId: 'k3', row: 'quick_workout', position: 4 });
    expect(await post({ events: [batch[0], fresh, fresh] })).toEqual({ status: 200, body: { accepted: 1, duplicates: 2 } });
    expect((await stored([...batch, fresh].map((e) => e.eventId))).length).toBe(4);
    const impressions = await query<{ class_id: string; position: number; source: string; publication_id: number | null; model_version: string | null }>(
      `select class_id, position, source, publication_id, model_version from feedback.impression where member_id = 'a1' order by position`,
    );
    expect(impressions).toEqual([
      { class_id: 'k1', position: 2, source: 'client', publication_id: null, model_version: null },
      { class_id: 'k2', position: 3, source: 'client', publication_id: 7, model_version: 'v7' },
      { class_id: 'k3', position: 4, source: 'client', publication_id: null, model_version: null },
    ]);
  });

  it('refuses a batch with a bad event with a 400 naming the event and the field, and stores nothing of it', async () => {
    const good = event({ memberId: 'b1' });
    const bad = await post({ events: [good, event({ memberId: 'b1' }), event({ memberId: 'b1' }), event({ memberId: 'b1', position: 0 })] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^events\[3\]\.position: /);
    const { memberId: _, ...withoutMember } = event();
    const missing = await post({ events: [good, withoutMember] });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatch(/^events\[1\]\.memberId: /);
    for (const [field, value] of [['type', 'view'], ['row', 'nope'], ['occurredAt', '2026-05-01 07:00'], ['memberId', ''], ['eventId', '']] as const) {
      const res = await post({ events: [good, { ...event(), [field]: value }] });
      expect(res.status, field).toBe(400);
      expect(res.body.error, field).toMatch(new RegExp(`^events\\[1\\]\\.${field}: `));
    }
    const half = await post({ events: [good, event({ experimentKey: 'usual-test' })] });
    expect(half.body.error).toMatch(/^events\[1\]\.variant: /);
    expect((await post({ events: [] })).body.error).toMatch(/^events: /);
    expect((await post({ nothing: true })).status).toBe(400);
    const tooMany = await post({ events: Array.from({ length: 10_001 }, () => event()) });
    expect(tooMany).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^events: .*10000/) } });
    const notJson = await fetch(`${web.api}/events`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(notJson.status).toBe(415);
    expect(await stored([good.eventId])).toEqual([]);
  });

  it('refuses events older than the retention or more than a day ahead, whole batch', async () => {
    const good = event({ memberId: 'c1' });
    const old = await post({ events: [good, event({ occurredAt: new Date(Date.now() - 91 * 24 * HOUR).toISOString() })] });
    expect(old).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^events\[1\]\.occurredAt: is older than the retention of 90 days/) } });
    const ahead = await post({ events: [event({ occurredAt: new Date(Date.now() + 25 * HOUR).toISOString() }), good] });
    expect(ahead).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^events\[0\]\.occurredAt: is more than a day in the future/) } });
    expect(await stored([good.eventId])).toEqual([]);
    // Within both bounds, with an offset: accepted.
    const edge = event({ occurredAt: '2026-01-01T00:00:00+02:00' });
    const result = await ingestEvents(web.harness.db, parseEventBatch({ events: [edge] }), { clock: () => new Date('2026-03-01T00:00:00Z'), retentionDays: 90 });
    expect(result).toEqual({ accepted: 1, duplicates: 0 });
    const [row] = await query<{ day: string; occurred_at: Date }>(`select to_char(day, 'YYYY-MM-DD') as day, occurred_at from feedback.event where event_id = $1`, [edge.eventId]);
    expect(row).toEqual({ day: '2025-12-31', occurred_at: new Date('2025-12-31T22:00:00.000Z') });
  });

  it('fills the experiment and the variant of an event in an experiment’s row by hash, and keeps a given one', async () => {
    const members = Array.from({ length: 20 }, (_, i) => `member-${i}`);
    const inRow = members.map((memberId) => event({ memberId, row: 'for_your_usual' }));
    const otherRow = event({ memberId: 'member-0', row: 'something_new' });
    const given = event({ memberId: 'member-1', experimentKey: 'other', variant: 'x' });
    const beforeStart = event({ memberId: 'member-2', occurredAt: new Date(Date.now() - 40 * 24 * HOUR).toISOString() });
    expect(await post({ events: [...inRow, otherRow, given, beforeStart] })).toMatchObject({ status: 200, body: { accepted: 23 } });
    const rows = new Map((await stored([...inRow, otherRow, given, beforeStart].map((e) => e.eventId))).map((r) => [r.event_id, r]));
    const variants = new Set<string>();
    for (const e of inRow) {
      const expected = variantOf(EXPERIMENT, e.memberId).key;
      variants.add(expected);
      expect(rows.get(e.eventId)).toMatchObject({ experiment_key: 'usual-test', variant: expected });
    }
    expect(variants).toEqual(new Set(['heuristics', 'model']));
    expect(rows.get(otherRow.eventId)).toMatchObject({ experiment_key: null, variant: null });
    expect(rows.get(given.eventId)).toMatchObject({ experiment_key: 'other', variant: 'x' });
    expect(rows.get(beforeStart.eventId)).toMatchObject({ experiment_key: null, variant: null });
    // The impressions the events made carry it too.
    const impression = await query<{ experiment_key: string; variant: string }>(`select experiment_key, variant from feedback.impression where member_id = 'member-3' and source = 'client'`);
    expect(impression).toEqual([{ experiment_key: 'usual-test', variant: variantOf(EXPERIMENT, 'member-3').key }]);
  });
});
