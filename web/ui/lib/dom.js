// @ts-check
// Building the page: h() makes elements, put() replaces children. Every value from the API
// reaches the page through textContent or attributes (never innerHTML), so data cannot inject markup.

/** @typedef {Node | string | number | false | null | undefined} Leaf */
/** A child, or arrays of them two deep (what `.map()` inside a child list makes): JSDoc types cannot recurse. @typedef {Leaf | readonly (Leaf | readonly Leaf[])[]} Child */
/** @typedef {string | number | boolean | null | undefined} AttrValue */
/** `onclick`, `onchange`, …, each with its own event type. @typedef {{ [K in keyof HTMLElementEventMap as `on${K}`]?: (event: HTMLElementEventMap[K]) => unknown }} Handlers */
/**
 * Attributes; null, undefined and false leave an attribute out, true sets it empty.
 * @typedef {Handlers & {
 *   style?: Partial<CSSStyleDeclaration>,
 *   dataset?: Record<string, string>,
 *   [name: string]: AttrValue | Partial<CSSStyleDeclaration> | Record<string, string> | ((event: never) => unknown),
 * }} Attrs
 */

/**
 * h('div', { class: 'x', onclick: fn }, child, …): an element; strings become text nodes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (value === true) el.setAttribute(key, '');
    else if (typeof value === 'string' || typeof value === 'number') el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    if (child instanceof Node) el.append(child);
    else if (typeof child === 'string' || typeof child === 'number') el.append(document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Replaces an element's children, skipping null / undefined / false.
 * @param {Element} el
 * @param {...Child} children
 */
export function put(el, ...children) {
  const nodes = children.flat(Infinity).filter(/** @returns {c is Node | string | number} */ (c) => c !== null && c !== undefined && c !== false);
  el.replaceChildren(...nodes.map((c) => (typeof c === 'number' ? String(c) : c)));
}

/**
 * An element index.html must have: a missing one is a broken page, better said at once.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el;
}

/** The view's container (main#app). */
export const app = byId('app');
