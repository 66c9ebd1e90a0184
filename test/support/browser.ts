import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

/** Debian's Chromium (playwright cannot download browsers here); `CHROMIUM_PATH` overrides. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots the browser tests keep as artifacts (git-ignored). */
export const SCREENSHOTS = path.resolve('test-results/screenshots');

/**
 * One headless Chromium for a test file, with the flags this machine needs (no sandbox as
 * root, no background networking), and laptop-sized pages that fail the test on any uncaught
 * error in the page.
 */
export class BrowserSession {
  private readonly contexts: BrowserContext[] = [];

  private constructor(readonly browser: Browser) {}

  static async launch(): Promise<BrowserSession> {
    await mkdir(SCREENSHOTS, { recursive: true });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
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
