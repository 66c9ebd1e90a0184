import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { chromiumBinary } from './chromium.ts';

export { chromiumBinary, type ChromiumBinary } from './chromium.ts';
/** Screenshots the browser tests keep as artifacts (git-ignored). */
export const SCREENSHOTS = path.resolve('test-results/screenshots');

/** Flags for every launch: no sandbox (tests run as root), no network beyond the page's own. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * One headless Chromium for a test file, with the flags this machine needs (no sandbox as
 * root, no background networking), and laptop-sized pages that fail the test on any uncaught
 * error in the page. The browser is the one `npm ci` brings ({@link chromiumBinary}: the
 * `@sparticuz/chromium` dev dependency, inflated on first use) unless `CHROMIUM_PATH` names
 * another; if it cannot start, `launch` throws saying which executable it tried.
 */
export class BrowserSession {
  private readonly contexts: BrowserContext[] = [];

  private constructor(readonly browser: Browser) {}

  static async launch(): Promise<BrowserSession> {
    await mkdir(SCREENSHOTS, { recursive: true });
    const binary = await chromiumBinary();
    let browser: Browser;
    try {
      browser = await chromium.launch({ executablePath: binary.executablePath, args: FLAGS, env: { ...process.env, ...binary.env } });
    } catch (error) {
      throw new Error(`Could not start Chromium ${binary.executablePath} (from ${binary.source}): ${(error as Error).message}`, { cause: error });
    }
    return new BrowserSession(browser);
  }

  /** A page in its own context (own cookies), 1366 × 768. */
  async newPage(): Promise<Page> {
    const context = await this.browser.newContext({ viewport: { width: 1366, height: 768 } });
    this.contexts.push(context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('close', () => expect(errors, 'uncaught errors in the page').toEqual([]));
    return page;
  }

  async close(): Promise<void> {
    for (const context of this.contexts) await context.close().catch(() => undefined);
    await this.browser.close();
  }
}

/** Fills and submits the UI's login form. */
export async function logIn(page: Page, origin: string, username: string, password: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.waitForSelector('form.login');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('form.login button[type=submit]');
}
