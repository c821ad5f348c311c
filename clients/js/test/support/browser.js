// Headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH, through
// playwright-core) with the test page: the page, its harness (support/page-harness.js)
// and the client's modules are served by the test proxy, so page and WebSocket share
// one origin.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const read = (relative) => readFileSync(new URL(relative, import.meta.url));

// pageFiles returns the proxy's files for the test page: the page, the harness, and
// the package's modules as a page without a bundler serves them.
export function pageFiles() {
  return {
    '/index.html': { type: 'text/html', body: read('./page.html') },
    '/page-harness.js': { type: 'text/javascript', body: read('./page-harness.js') },
    '/wsgate/index.js': { type: 'text/javascript', body: read('../../src/index.js') },
    '/wsgate/channels.js': { type: 'text/javascript', body: read('../../src/channels.js') },
    '/wsgate/policy.js': { type: 'text/javascript', body: read('../../src/policy.js') },
    '/wsgate/listeners.js': { type: 'text/javascript', body: read('../../src/listeners.js') },
  };
}

// openPage starts Chromium on a fresh profile and opens the test page at origin
// ("127.0.0.1:port" of a proxy serving pageFiles). The result has page, context,
// pageError() (the page's first uncaught error), inPage, until and close().
export async function openPage(origin) {
  const profile = mkdtempSync(join(tmpdir(), 'wsgate-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  let pageError;
  page.on('pageerror', (error) => {
    pageError ??= error;
  });
  await page.goto(`http://${origin}/index.html`);
  await page.waitForFunction(() => window.harness !== undefined, null, { timeout: 10000 });

  // inPage evaluates harness.method(...args) in the page.
  const inPage = (method, ...args) => page.evaluate(([name, values]) => window.harness[name](...values), [method, args]);

  return {
    page,
    context,
    pageError: () => pageError,
    inPage,
    // until waits (at most timeout ms) for harness.method(...args) to satisfy check
    // and returns that value.
    async until(timeout, what, check, method, ...args) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const value = await inPage(method, ...args);
        if (check(value)) {
          return value;
        }
        if (Date.now() > deadline) {
          throw new Error(`timed out after ${timeout} ms waiting for ${what}; last value ${JSON.stringify(value)}`);
        }
        await delay(20);
      }
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
