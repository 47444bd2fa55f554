// Headless Chromium clients (playwright-core, Debian's /usr/bin/chromium),
// one fresh browser context each, driving web/ through window.funkhaus.

import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.FUNKHAUS_CHROMIUM || '/usr/bin/chromium';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  throw new Error(`playwright-core is missing: run 'npm ci' in tests/e2e (${e.message})`);
}

/** `extraArgs`: more Chromium flags (a fake microphone, say);
 *  `executablePath`: what starts Chromium (a wrapper that runs it in a
 *  network namespace, say). */
export async function launchBrowser(extraArgs = [], { executablePath = CHROMIUM } = {}) {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: install the chromium package or set FUNKHAUS_CHROMIUM`);
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
      // Two clients in one browser: neither may be throttled as "hidden".
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows', ...extraArgs],
  });
}

export class Client {
  constructor(name, context, page) {
    this.name = name;
    this.context = context;
    this.page = page;
    this.logs = [];
    const t0 = Date.now();
    const log = (l) => this.logs.push(`[${((Date.now() - t0) / 1000).toFixed(3)}] ${l}`);
    page.on('console', (m) => log(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log(`pageerror: ${e.message}`));
    page.on('websocket', (ws) => {
      log(`websocket open ${ws.url()}`);
      ws.on('close', () => log('websocket closed'));
    });
    page.on('requestfailed', (r) => log(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  }

  /** window.funkhaus, minus what does not cross into node. */
  async hooks() {
    return this.page.evaluate(() => {
      const f = window.funkhaus;
      if (!f)
        return null;
      const { socket, sampleColor, ...rest } = f;
      return JSON.parse(JSON.stringify({ ...rest, socketState: socket ? socket.readyState : null }));
    });
  }

  async get(expr) {
    return this.page.evaluate(expr);
  }

  /** Waits until `fn(window.funkhaus, arg)` (run in the page) is truthy. */
  async waitFor(fn, { arg, timeout = 30000, what } = {}) {
    const src = `(${fn.toString()})(window.funkhaus, ${JSON.stringify(arg ?? null)})`;
    try {
      await this.page.waitForFunction(`window.funkhaus && ${src}`, null, { timeout, polling: 100 });
    } catch (e) {
      const h = await this.hooks().catch(() => null);
      throw new Error(`${this.name}: timed out after ${timeout} ms waiting for ${what ?? fn.toString()}\n` +
        `window.funkhaus = ${JSON.stringify(h, null, 1)}`);
    }
  }

  async waitFrames(min, opts = {}) {
    await this.waitFor((f, n) => f.framesDecoded >= n, { arg: min, what: `${min} decoded frames`, ...opts });
  }

  async sampleColor(x, y) {
    return this.page.evaluate(([x, y]) => window.funkhaus.sampleColor(x, y), [x, y]);
  }

  async close() {
    await this.context.close().catch(() => {});
  }

  report() {
    return `--- browser log of client ${this.name} ---\n${this.logs.join('\n')}`;
  }
}

/** Opens the client page; with `pin` it pairs, with `autoconnect` it connects.
 *  `params` go into the URL as they are. */
export async function openClient(browser, host, name, params = {}, { viewport, initScript, permissions } = {}) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: viewport ?? { width: 1280, height: 720 },
  });
  // Runs in the page before its own scripts (a scripted navigator.getGamepads).
  if (initScript)
    await context.addInitScript(initScript);
  if (permissions)
    await context.grantPermissions(permissions);
  const page = await context.newPage();
  const client = new Client(name, context, page);
  const query = new URLSearchParams(params).toString();
  await page.goto(host.url + (query ? `?${query}` : ''));
  await page.waitForFunction(() => window.funkhaus !== undefined, null, { timeout: 10000 });
  return client;
}

/** Pairs with `pin` and connects at `mode`; resolves once streaming. */
export async function connectClient(browser, host, name, { pin, width, height, refresh, bitrate, mic, clipboard, desktop, app }, opts = {}) {
  const params = { pin, name, width, height, refresh, autoconnect: 1 };
  if (bitrate)
    params.bitrate = bitrate;
  if (mic)
    params.mic = 1;
  if (clipboard)
    params.clipboard = 1;
  if (desktop)
    params.desktop = desktop;
  if (app)
    params.app = app;
  const client = await openClient(browser, host, name, params,
    { viewport: opts.viewport ?? { width, height }, initScript: opts.initScript, permissions: opts.permissions });
  await client.waitFor((f) => f.state === 'streaming' && f.welcome, { what: 'streaming', timeout: 20000 });
  return client;
}

export function colorClose(a, b, tolerance) {
  return a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= tolerance);
}

export function colorDistance(a, b) {
  return Math.max(...a.map((v, i) => Math.abs(v - b[i])));
}
