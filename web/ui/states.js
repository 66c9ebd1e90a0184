// @ts-check
// State colours: the Okabe–Ito palette (readable with the common colour-vision deficiencies),
// and every state also has its own glyph, so no state is told by colour alone.

/** @typedef {{ color: string, fg: string, glyph: string, label: string }} StateStyle */

/** @type {Readonly<Record<string, StateStyle>>} */
export const STATES = {
  success: { color: '#009E73', fg: '#ffffff', glyph: '✓', label: 'success' },
  failed: { color: '#D55E00', fg: '#ffffff', glyph: '✕', label: 'failed' },
  running: { color: '#56B4E9', fg: '#00263d', glyph: '▶', label: 'running' },
  queued: { color: '#0072B2', fg: '#ffffff', glyph: '…', label: 'queued' },
  scheduled: { color: '#C9C9C9', fg: '#222222', glyph: '◷', label: 'scheduled' },
  up_for_retry: { color: '#F0E442', fg: '#3b3600', glyph: '↻', label: 'up for retry' },
  upstream_failed: { color: '#E69F00', fg: '#2b1d00', glyph: '!', label: 'upstream failed' },
  skipped: { color: '#CC79A7', fg: '#2e0a20', glyph: '»', label: 'skipped' },
  none: { color: '#ffffff', fg: '#777777', glyph: '', label: 'no status' },
};

export const LEGEND_ORDER = ['success', 'failed', 'running', 'queued', 'scheduled', 'up_for_retry', 'upstream_failed', 'skipped', 'none'];

/**
 * A state's style; an unknown state still gets a grey one with its name.
 * @param {string} state
 * @returns {StateStyle}
 */
export function stateInfo(state) {
  return STATES[state] ?? { color: '#eeeeee', fg: '#000000', glyph: '?', label: String(state) };
}

/** @type {ReadonlySet<string>} */
export const ACTIVE_RUN_STATES = new Set(['queued', 'running']);
