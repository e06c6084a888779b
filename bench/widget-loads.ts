/**
 * Phase 10's page side: the host site (an article without and with the widget, and a stub), and
 * one cold load of a page in a fresh browser context, read with the Performance API in the page.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page, Request } from 'playwright-core';

const SETTLE_MS = 500;
const LAUNCHER = 'parley-widget button[part=launcher]';

// Code for the page is kept in strings: tsx compiles this file with esbuild's keepNames, which
// wraps functions in a `__name` helper that a serialized function would carry into the page.
const LONG_TASK_OBSERVER = `window.__longTasks = [];
try {
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration }); })
    .observe({ type: 'longtask', buffered: true });
} catch { window.__longTasks = null; }
window.__widgetFrames = [];
try {
  new PerformanceObserver((list) => {
    for (const f of list.getEntries()) {
      const mine = f.scripts.filter((s) => s.sourceURL.includes('/widget.js') || s.sourceURL.includes('/widget/panel.'));
      if (mine.length) window.__widgetFrames.push({ start: f.startTime, duration: f.duration, widget: Math.max(...mine.map((s) => s.duration)) });
    }
  }).observe({ type: 'long-animation-frame', buffered: true });
} catch { window.__widgetFrames = null; }`;
const LOAD_ENDED = `(performance.getEntriesByType('navigation')[0]?.loadEventEnd ?? 0) > 0`;
const MARKED = (name: string) => `performance.getEntriesByName(${JSON.stringify(name)}, 'mark').length > 0`;
const MARK_TIME = (name: string) => `performance.getEntriesByName(${JSON.stringify(name)}, 'mark')[0]?.startTime ?? null`;
// scriptEnd: when the page's one script (widget.js or the stub) had arrived; responseEnd is exposed even cross-origin.
const READ_LOAD = `({
  loadEnd: performance.getEntriesByType('navigation')[0].loadEventEnd,
  launcher: ${MARK_TIME('parley-launcher')},
  scriptStart: ${MARK_TIME('parley-script')},
  scriptEnd: performance.getEntriesByType('resource').find((e) => e.initiatorType === 'script')?.responseEnd ?? null,
  longTasks: window.__longTasks,
  widgetFrames: window.__widgetFrames,
})`;
const READ_OPEN = `({ open: ${MARK_TIME('parley-open')}, ready: ${MARK_TIME('parley-ready')}, longTasks: window.__longTasks, widgetFrames: window.__widgetFrames })`;

const PARAGRAPH =
  'Tomatoes want six to eight hours of sun, soil that drains and a steady supply of water at the roots rather than on the leaves. ' +
  'Stake them early, before the stems sprawl, and pinch the side shoots of cordon varieties once a week so the plant puts its effort into fruit. ' +
  'Feed with a high-potash liquid once the first truss has set, and water in the morning so the foliage dries before the evening. ';

/** A plain article of about 5 KB, the kind of page a help widget sits on. */
function article(widgetTag: string): string {
  const sections = ['Choosing a spot', 'Planting out', 'Staking and pinching', 'Feeding', 'Watering', 'Harvest'];
  const body = sections.map((title) => `<section><h2>${title}</h2><p>${PARAGRAPH}</p><p>${PARAGRAPH.slice(0, 260)}</p></section>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Growing tomatoes</title>
<style>body{font:16px/1.6 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222}h1,h2{line-height:1.2}</style>
</head><body><header><h1>Growing tomatoes</h1><p>A season's notes from the allotment.</p></header>
<main>${body}</main><footer><p>© The allotment society</p></footer>
${widgetTag}</body></html>`;
}

export interface Site {
  plain: string;
  /** The article with a one-line script from a third origin that only marks `parley-launcher`. */
  withStub: string;
  withWidget: string;
  close(): Promise<void>;
}

/** A loopback server of fixed pages; each one is its own origin. */
async function serve(pages: Map<string, { type: string; body: string }>): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const page = pages.get(req.url ?? '');
    if (page === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': page.type, 'cache-control': 'no-store' }).end(page.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function startHostSite(parleyUrl: string, chatbot: string): Promise<Site> {
  // The stub is the floor of the method: what any async script from another origin costs here.
  const stub = await serve(new Map([['/stub.js', { type: 'text/javascript', body: "performance.mark('parley-launcher');" }]]));
  const html = (tag: string) => ({ type: 'text/html; charset=utf-8', body: article(tag) });
  const site = await serve(
    new Map([
      ['/article', html('')],
      ['/article-with-stub', html(`<script src="${stub.url}/stub.js" async></script>`)],
      ['/article-with-widget', html(`<script src="${parleyUrl}/widget.js" async data-chatbot="${chatbot}"></script>`)],
    ]),
  );
  return {
    plain: `${site.url}/article`,
    withStub: `${site.url}/article-with-stub`,
    withWidget: `${site.url}/article-with-widget`,
    close: async () => void (await Promise.all([site.close(), stub.close()])),
  };
}

export interface ParleyRequest {
  path: string;
  type: string;
  /** Made after the launcher was clicked. */
  afterOpen: boolean;
  /** Response body as received (encoded), from Chromium; filled when the request finished. */
  bytes?: number;
  encoding?: string;
}

export interface LongTask {
  start: number;
  duration: number;
}

export interface WidgetFrame {
  start: number;
  duration: number;
  widget: number;
}

export interface Load {
  loadEnd: number;
  /** null on the page without the widget. */
  launcher: number | null;
  /** When the page's script (widget.js or the stub) had arrived; null without one. */
  scriptEnd: number | null;
  /** The loader's first statement (`parley-script`); null without the widget. */
  scriptStart: number | null;
  longTasks: LongTask[];
  /**
   * Long animation frames (≥ 50 ms) in which the widget's own code ran, with the longest run of
   * its code in the frame (Long Animation Frames script attribution): long tasks alone cannot
   * tell the widget's work from the page's or from the benchmark's own evaluations.
   */
  widgetFrames: WidgetFrame[];
  /** Only when the launcher was clicked. */
  openToReady?: number;
  openLongTasks?: LongTask[];
  requests: ParleyRequest[];
}

/** Watches the page's requests to Parley: how many before any interaction, and their sizes. */
function watchParley(page: Page, parleyUrl: string): { requests: ParleyRequest[]; opened(): void; settled(): Promise<void> } {
  const requests: ParleyRequest[] = [];
  const pending: Promise<void>[] = [];
  const byRequest = new Map<Request, ParleyRequest>();
  let afterOpen = false;
  page.on('request', (request) => {
    if (!request.url().startsWith(parleyUrl)) return;
    const entry: ParleyRequest = { path: new URL(request.url()).pathname, type: request.resourceType(), afterOpen };
    requests.push(entry);
    byRequest.set(request, entry);
  });
  page.on('requestfinished', (request) => {
    const entry = byRequest.get(request);
    if (!entry) return;
    pending.push(
      Promise.all([request.sizes(), request.response()]).then(
        ([sizes, response]) => {
          entry.bytes = sizes.responseBodySize;
          entry.encoding = response?.headers()['content-encoding'] ?? 'identity';
        },
        // A request that finished as its page closed (a load already measured) has no sizes left to read: it shows as "?".
        () => {},
      ),
    );
  });
  return { requests, opened: () => (afterOpen = true), settled: async () => void (await Promise.all(pending)) };
}

/** Waits for the network to be quiet; a widget that never lets it be quiet shows in the request count. */
async function quiet(page: Page): Promise<void> {
  await page.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => {});
}

/**
 * One load in a fresh context (empty cache, new connections). `launcher`: wait for the mark
 * `parley-launcher` too; `open`: then click the launcher and wait for the panel's `parley-ready`.
 */
export async function coldLoad(browser: Browser, url: string, options: { parleyUrl: string; rate: number; launcher: boolean; open: boolean }): Promise<Load> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    const parley = watchParley(page, options.parleyUrl);
    if (options.rate !== 1) await (await context.newCDPSession(page)).send('Emulation.setCPUThrottlingRate', { rate: options.rate });
    await page.addInitScript({ content: LONG_TASK_OBSERVER });
    // A new context starts a renderer process, and the last one is still being torn down: let
    // both finish before the clock starts, or their work lands in the page's numbers.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const waitFor = (expression: string, what: string) =>
      page.waitForFunction(expression).catch((error: Error) => {
        throw new Error(`${what} never came (${error.message.split('\n')[0]})${errors.length ? `; page errors: ${errors.slice(0, 3).join(' | ')}` : ''}`);
      });
    await page.goto(url, { waitUntil: 'load' });
    await waitFor(LOAD_ENDED, 'the load event end');
    if (options.launcher) await waitFor(MARKED('parley-launcher'), 'the mark parley-launcher');
    await quiet(page);
    const read = (await page.evaluate(READ_LOAD)) as Omit<Load, 'requests' | 'longTasks' | 'widgetFrames'> & { longTasks: LongTask[] | null; widgetFrames: WidgetFrame[] | null };
    if (read.longTasks === null || read.widgetFrames === null) throw new Error('this Chromium does not report long tasks and long animation frames');
    const load: Load = { ...read, longTasks: [...read.longTasks], widgetFrames: [...read.widgetFrames], requests: parley.requests };
    if (options.open) {
      parley.opened();
      await page.click(LAUNCHER);
      await waitFor(MARKED('parley-ready'), 'the mark parley-ready');
      await quiet(page);
      const opened = (await page.evaluate(READ_OPEN)) as { open: number | null; ready: number; longTasks: LongTask[]; widgetFrames: WidgetFrame[] };
      load.widgetFrames = opened.widgetFrames;
      if (opened.open === null) throw new Error('the panel marked parley-ready but nothing marked parley-open');
      load.openToReady = opened.ready - opened.open;
      load.openLongTasks = opened.longTasks.slice(load.longTasks.length);
    }
    await parley.settled();
    return load;
  } finally {
    await context.close();
  }
}
