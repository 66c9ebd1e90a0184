// @ts-check
// The picks browser (#/picks?member=…): one member's published Daily Picks, row by row, as the
// public picks API serves them to product services.
import { ApiError, enc, errorOf } from '../lib/api.js';
import { app, h, put } from '../lib/dom.js';
import { fmtDate } from '../lib/format.js';
import { errorBox } from '../lib/widgets.js';

/** @typedef {import('../lib/types.js').MemberPicks} MemberPicks */

/** @type {Readonly<Record<string, string>>} */
const ROW_TITLES = { for_your_usual: 'For Your Usual', quick_workout: 'For a Quick Workout', something_new: 'For Something New', ranked: 'Ranked' };

/** @param {string} name */
function rowTitle(name) {
  return ROW_TITLES[name] ?? name;
}

/** @param {number} score */
function scoreBar(score) {
  const value = typeof score === 'number' && Number.isFinite(score) ? score : 0;
  const pct = Math.max(0, Math.min(1, value)) * 100;
  return h(
    'span',
    { class: 'scorebar', title: String(score) },
    h('span', { class: 'scorebar-fill', style: { width: `${pct}%` } }),
    h('span', { class: 'scorebar-text' }, value.toFixed(value < 0.01 && value > 0 ? 4 : 3)),
  );
}

/**
 * Not through api(): this is the public serving API (web/picks-api.ts, mounted above the session
 * middleware), read the way product services read it.
 * @param {string} memberId
 * @returns {Promise<MemberPicks>}
 */
async function fetchPicks(memberId) {
  const res = await fetch(`/api/v1/members/${enc(memberId)}/picks`, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  /** @type {unknown} */
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, errorOf(body) ?? `${res.status} ${res.statusText}`);
  return /** @type {MemberPicks} */ (body);
}

/** @param {URLSearchParams} params */
export async function viewPicks(params) {
  const input = h('input', { id: 'member-id', name: 'member', value: params.get('member') ?? '', placeholder: 'e.g. m_000123', required: true, autocomplete: 'off' });
  const out = h('div', { class: 'picks-out', 'data-testid': 'picks' });

  /** @param {string} memberId */
  async function show(memberId) {
    put(out, h('p', { class: 'muted' }, 'Loading…'));
    /** @type {MemberPicks} */
    let data;
    try {
      data = await fetchPicks(memberId);
    } catch (e) {
      put(out, errorBox(e instanceof ApiError && e.status === 404 ? `No picks for member "${memberId}": ${e.message}` : e));
      return;
    }
    put(
      out,
      h(
        'dl',
        { class: 'facts inline-facts' },
        h('dt', {}, 'Member'),
        h('dd', { class: 'mono' }, data.memberId),
        h('dt', {}, 'Source'),
        h('dd', {}, data.source),
        h('dt', {}, 'Model'),
        h('dd', { class: 'mono' }, data.modelVersion),
        h('dt', {}, 'Generated'),
        h('dd', {}, fmtDate(data.generatedAt)),
      ),
      (data.rows ?? []).map((row) =>
        h(
          'section',
          { class: 'picks-row card', 'data-row': row.row },
          h('h2', {}, rowTitle(row.row), h('span', { class: 'muted small' }, ` ${row.picks.length} classes`)),
          h(
            'table',
            { class: 'table' },
            h('thead', {}, h('tr', {}, h('th', { class: 'narrow' }, '#'), h('th', {}, 'Class'), h('th', {}, 'Discipline'), h('th', {}, 'Duration'), h('th', {}, 'Instructor'), h('th', {}, 'Score'), h('th', {}, 'Why'))),
            h(
              'tbody',
              {},
              row.picks.map((p, i) =>
                h(
                  'tr',
                  {},
                  h('td', {}, i + 1),
                  h('td', {}, p.title, h('div', { class: 'muted small mono' }, p.classId)),
                  h('td', {}, p.discipline),
                  h('td', { class: 'nowrap' }, `${p.durationMin} min`),
                  h('td', {}, p.instructor),
                  h('td', { class: 'score' }, scoreBar(p.score)),
                  h('td', {}, p.reason),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  put(
    app,
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', {}, 'Picks browser'), h('p', { class: 'muted' }, 'The published Daily Picks of one member, as product services get them.')),
      h(
        'form',
        {
          class: 'filters',
          onsubmit: (event) => {
            event.preventDefault();
            const memberId = input.value.trim();
            if (!memberId) return;
            history.replaceState(null, '', `#/picks?member=${enc(memberId)}`);
            void show(memberId);
          },
        },
        h('label', { for: 'member-id' }, 'Member id', input),
        h('button', { type: 'submit', class: 'primary' }, 'Show picks'),
      ),
      out,
    ),
  );
  if (input.value) await show(input.value);
  return () => {};
}
