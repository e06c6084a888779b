/**
 * Phase 10: what the embeddable widget costs the page that embeds it, in a real browser.
 *
 * Headless Chromium (playwright-core) loads an article page from a host site on another loopback
 * port (another origin), without the widget and with its script tag, each load in a new browser
 * context so nothing is cached. The page without the widget is the baseline: its load end is when
 * a visitor could start reading; the launcher should appear right after. Then, with the CPU slowed
 * 4×, the launcher is clicked and we time the panel from `parley-open` to `parley-ready` (its input
 * focused). Everything is read in the page with the Performance API: marks, navigation timing,
 * long tasks.
 */
import { accessSync, constants } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { postJson, type ChatApi } from './client.js';
import { atMost, num, ratio, withUnit, type Row, type Section } from './report.js';

const LOADS = 7;
const SETTLE_MS = 500;
const SLOW = 4;
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// As test/helpers/browser.ts: no sandbox (root in a container), and no calls home to add noise.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const LAUNCHER = 'parley-widget button[part=launcher]';
const dash = '—';

export const WIDGET_METHOD = `Headless Chromium (playwright-core, Debian's build) loads an article page (≈ 5 KB of text) from a host site on another loopback port, without the widget ("Baseline") and with its \`<script src=…/widget.js async data-chatbot=…>\` ("Parley"), against this Parley and a public chatbot with no allowed origins, and with a one-line async script from a third loopback origin that only marks \`parley-launcher\` (the floor: what any cross-origin script costs on this machine). Every load is cold (a new browser context: empty cache, new connections); one discarded warm-up of each page, then ${LOADS} loads of each, alternating, at normal CPU speed and with the CPU slowed 4× (DevTools \`Emulation.setCPUThrottlingRate\`). Times are read in the page: the navigation entry's \`loadEventEnd\`, the widget's \`performance.mark\`s (\`parley-launcher\` once the launcher is in the DOM, \`parley-open\` when a click starts opening, \`parley-ready\` once the panel's input has focus) and \`longtask\` entries from a PerformanceObserver installed before the page's own scripts. At 4× each load with the widget then clicks the launcher.`;

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

interface Site {
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

async function startHostSite(parleyUrl: string, chatbot: string): Promise<Site> {
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

interface ParleyRequest {
  path: string;
  type: string;
  /** Made after the launcher was clicked. */
  afterOpen: boolean;
  /** Response body as received (encoded), from Chromium; filled when the request finished. */
  bytes?: number;
  encoding?: string;
}

interface LongTask {
  start: number;
  duration: number;
}

interface WidgetFrame {
  start: number;
  duration: number;
  widget: number;
}

interface Load {
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
async function coldLoad(browser: Browser, url: string, options: { parleyUrl: string; rate: number; launcher: boolean; open: boolean }): Promise<Load> {
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

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? NaN : sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const longest = (loads: Load[], pick: (load: Load) => LongTask[] | undefined) => Math.max(0, ...loads.flatMap((load) => (pick(load) ?? []).map((t) => t.duration)));
/** Tasks that began once the script had arrived: before that it cannot have run, so those are the page's own. */
const afterScript = (load: Load) => load.longTasks.filter((t) => load.scriptEnd !== null && t.start >= load.scriptEnd);
const list = (values: number[]) => values.map((v) => num(v, 0)).join(', ');

interface Series {
  rate: number;
  plain: Load[];
  stub: Load[];
  widget: Load[];
}

/** A discarded warm-up of each page, then LOADS of each, alternating so drift hits both alike. */
async function series(browser: Browser, site: Site, parleyUrl: string, rate: number, say: (line: string) => void): Promise<Series> {
  const open = rate === SLOW;
  say(`CPU ${rate}×: warm-up (1 load of each page, not counted)`);
  await coldLoad(browser, site.plain, { parleyUrl, rate, launcher: false, open: false });
  await coldLoad(browser, site.withWidget, { parleyUrl, rate, launcher: true, open });
  await coldLoad(browser, site.withStub, { parleyUrl, rate, launcher: true, open: false });
  const result: Series = { rate, plain: [], stub: [], widget: [] };
  for (let i = 0; i < LOADS; i++) {
    const plain = await coldLoad(browser, site.plain, { parleyUrl, rate, launcher: false, open: false });
    const stub = await coldLoad(browser, site.withStub, { parleyUrl, rate, launcher: true, open: false });
    const widget = await coldLoad(browser, site.withWidget, { parleyUrl, rate, launcher: true, open });
    result.plain.push(plain);
    result.stub.push(stub);
    result.widget.push(widget);
    const opening = widget.openToReady === undefined ? '' : `, open→ready ${num(widget.openToReady, 0)} ms`;
    say(
      `CPU ${rate}× load ${i + 1}/${LOADS}: without ${num(plain.loadEnd, 0)} ms (load end); stub marked ${num(stub.launcher ?? NaN, 0)} ms; widget launcher ${num(widget.launcher ?? NaN, 0)} ms${opening}, longest task after widget.js ${num(longest([widget], afterScript), 0)} ms (anywhere ${num(longest([widget], (l) => l.longTasks), 0)} ms)`,
    );
  }
  return result;
}

function longTaskRow(measure: string, withWidget: number, without: number | null): Row {
  return {
    measure,
    parley: withWidget === 0 ? 'none' : withUnit(withWidget, 'ms', 0),
    baseline: without === null ? dash : without === 0 ? 'none' : withUnit(without, 'ms', 0),
    ratio: dash,
    target: 'no task ≥ 50 ms',
    verdict: withWidget === 0 ? '✅ met: none' : `❌ missed: longest ${num(withWidget, 0)} ms`,
  };
}

function timingRows(s: Series, target: number): Row[] {
  const launcher = median(s.widget.map((l) => l.launcher ?? NaN));
  const stub = median(s.stub.map((l) => l.launcher ?? NaN));
  const plainEnd = median(s.plain.map((l) => l.loadEnd));
  const widgetEnd = median(s.widget.map((l) => l.loadEnd));
  return [
    {
      measure: `Launcher in the DOM (\`parley-launcher\`) vs load end of the page without the widget, CPU ${s.rate}× (medians of ${LOADS})`,
      parley: withUnit(launcher, 'ms'),
      baseline: withUnit(plainEnd, 'ms'),
      ratio: ratio(launcher, plainEnd),
      target: `≤ ${target} ms after`,
      verdict: atMost(launcher - plainEnd, target, 'ms', 1),
    },
    {
      measure: `Launcher in the DOM vs a one-line async script from another origin that only marks, CPU ${s.rate}× (the method's floor)`,
      parley: withUnit(launcher, 'ms'),
      baseline: withUnit(stub, 'ms'),
      ratio: ratio(launcher, stub),
      target: dash,
      verdict: launcher >= stub ? `${num(launcher - stub)} ms over the floor` : `${num(stub - launcher)} ms under the floor: no slower than any script`,
    },
    { measure: `Load event end of the page, with the widget vs without, CPU ${s.rate}×`, parley: withUnit(widgetEnd, 'ms'), baseline: withUnit(plainEnd, 'ms'), ratio: ratio(widgetEnd, plainEnd), target: dash, verdict: dash },
    longTaskRow(`Longest long task begun once the script arrived, widget vs stub, CPU ${s.rate}× (all ${LOADS} loads)`, longest(s.widget, afterScript), longest(s.stub, afterScript)),
  ];
}

interface Size {
  raw: number;
  gzip: number;
  served: string;
}

/** A file's size uncompressed, and gzipped: as Parley serves it, else at level 9 as scripts/build-widget.js budgets it. */
async function sizeOf(url: string): Promise<Size> {
  const get = (headers: Record<string, string>) =>
    new Promise<{ body: Buffer; encoding: string }>((resolve, reject) => {
      http
        .get(url, { headers, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => (res.statusCode === 200 ? resolve({ body: Buffer.concat(chunks), encoding: String(res.headers['content-encoding'] ?? 'identity') }) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
        })
        .on('error', reject);
    });
  const plain = await get({});
  const gzip = await get({ 'accept-encoding': 'gzip' });
  const served = gzip.encoding === 'identity' ? 'not compressed by Parley' : `served ${gzip.encoding}, ${gzip.body.length.toLocaleString('en-US')} B`;
  return { raw: plain.body.length, gzip: gzip.encoding === 'gzip' ? gzip.body.length : gzipSync(plain.body, { level: 9 }).length, served };
}

function sizeRow(what: string, request: ParleyRequest | undefined, size: Size | undefined): Row {
  if (!request || !size) return { measure: `Transfer size: ${what}`, parley: 'not seen', baseline: dash, ratio: dash, target: dash, verdict: '❓ not measured' };
  return {
    measure: `Transfer size: ${what} (\`${request.path}\`)`,
    parley: `${(request.bytes ?? NaN).toLocaleString('en-US')} B received by Chromium (${request.encoding})`,
    baseline: dash,
    ratio: dash,
    target: dash,
    verdict: `${size.gzip.toLocaleString('en-US')} B gzip, ${size.raw.toLocaleString('en-US')} B raw; ${size.served}`,
  };
}

async function createPublicChatbot(api: ChatApi, runId: string): Promise<string> {
  const owner = await api.register(`${runId}-widget`);
  // No allowed origins: any page may embed it, as the loopback host site here does.
  const created = await postJson(`${api.url}/v1/chatbots`, { name: 'Bench help desk', is_public: true, allowed_origins: [] }, { token: owner });
  if (created.status !== 201) throw new Error(`create public chatbot: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.slug as string;
}

export async function widgetPhase(section: Section, say: (line: string) => void, options: { api: ChatApi; runId: string }): Promise<void> {
  const { api, runId } = options;
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
  } catch {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  const loader = await fetch(`${api.url}/widget.js`);
  if (loader.status !== 200) throw new Error(`GET /widget.js answered ${loader.status}: is the widget built (npm run build)?`);
  const chatbot = await createPublicChatbot(api, runId);
  const site = await startHostSite(api.url, chatbot);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  say(`Chromium ${browser.version()}; host site ${new URL(site.plain).origin}, Parley ${api.url}, chatbot ${chatbot}`);
  try {
    const normal = await series(browser, site, api.url, 1, say);
    const slow = await series(browser, site, api.url, SLOW, say);
    await report(section, api.url, normal, slow);
  } finally {
    await browser.close();
    await site.close();
  }
}

/** The widget's own code in long frames: loading and, at 4×, opening. */
function widgetFrameRow(s: Series): Row {
  const frames = s.widget.flatMap((l) => l.widgetFrames);
  const code = Math.max(0, ...frames.map((f) => f.widget));
  const frame = Math.max(0, ...frames.map((f) => f.duration));
  return {
    measure: `Longest run of the widget's own code in one task (Long Animation Frames script attribution), loading${s.rate === SLOW ? ' and opening' : ''}, CPU ${s.rate}× (all ${LOADS} loads; longest long frame it ran in: ${frame === 0 ? 'none' : `${num(frame, 0)} ms`})`,
    parley: frames.length === 0 ? 'in no long frame' : withUnit(code, 'ms', 0),
    baseline: dash,
    ratio: dash,
    target: 'no task ≥ 50 ms',
    verdict: code < 50 ? `✅ met: ${frames.length === 0 ? 'never in a long frame' : `longest ${num(code, 0)} ms`}` : `❌ missed: ${num(code, 0)} ms`,
  };
}

/** What the loader itself takes on the main thread: its first statement to the launcher in the DOM. */
function ownRunRow(s: Series): Row {
  const own = s.widget.map((l) => (l.launcher ?? NaN) - (l.scriptStart ?? NaN));
  const waited = s.widget.map((l) => (l.scriptStart ?? NaN) - (l.scriptEnd ?? NaN));
  return {
    measure: `The loader's own run: its first statement (\`parley-script\`) → launcher in the DOM, CPU ${s.rate}× (median of ${LOADS}; widget.js arrived → first statement: ${num(median(waited), 1)} ms)`,
    parley: withUnit(median(own), 'ms'),
    baseline: dash,
    ratio: dash,
    target: dash,
    verdict: dash,
  };
}

async function report(section: Section, parleyUrl: string, normal: Series, slow: Series): Promise<void> {
  const openToReady = slow.widget.map((l) => l.openToReady ?? NaN);
  const before = [...normal.widget, ...slow.widget].map((l) => l.requests.filter((r) => !r.afterOpen));
  const mostBefore = Math.max(...before.map((r) => r.length));
  const example = slow.widget[0]!;
  const loaderRequest = example.requests.find((r) => r.path === '/widget.js');
  const panelRequest = example.requests.find((r) => r.afterOpen && r.type === 'script');
  const [loaderSize, panelSize] = await Promise.all([loaderRequest, panelRequest].map((r) => (r ? sizeOf(parleyUrl + r.path) : Promise.resolve(undefined))));
  section.rows.push(
    ...timingRows(normal, 25),
    ...timingRows(slow, 60),
    ...[normal, slow].map((s) => ownRunRow(s)),
    ...[normal, slow].map((s) => widgetFrameRow(s)),
    longTaskRow(`Longest long task from the click to the focused input, CPU ${SLOW}×`, longest(slow.widget, (l) => l.openLongTasks), null),
    { measure: `Click → input focused (\`parley-ready\` − \`parley-open\`), CPU ${SLOW}× (median of ${LOADS})`, parley: withUnit(median(openToReady), 'ms'), baseline: dash, ratio: dash, target: '≤ 150 ms', verdict: atMost(median(openToReady), 150, 'ms', 1) },
    {
      measure: 'Requests to Parley before any interaction (most in one load)',
      parley: String(mostBefore),
      baseline: dash,
      ratio: dash,
      target: '1 (widget.js)',
      verdict: mostBefore === 1 ? '✅ met' : `❌ ${[...new Set(before.flat().map((r) => r.path))].join(', ')}`,
    },
    sizeRow('the loader', loaderRequest, loaderSize),
    sizeRow('the panel, fetched on open', panelRequest, panelSize),
  );
  section.notes.push(
    ...[normal, slow].map(
      (s) =>
        `Samples at ${s.rate}× (ms): load end without ${list(s.plain.map((l) => l.loadEnd))}; stub marked ${list(s.stub.map((l) => l.launcher ?? NaN))}; widget launcher ${list(s.widget.map((l) => l.launcher ?? NaN))}${s === slow ? `; click → input focused ${list(openToReady)}` : ''}.`,
    ),
    ...[normal, slow].map(
      (s) =>
        `Longest long task anywhere in a load at ${s.rate}× (the page's own parsing and layout included): without a script ${num(longest(s.plain, (l) => l.longTasks), 0)} ms, with the stub ${num(longest(s.stub, (l) => l.longTasks), 0)} ms, with the widget ${num(longest(s.widget, (l) => l.longTasks), 0)} ms (0: none).`,
    ),
    `Requests to Parley in the first ${SLOW}× load: ${example.requests.map((r) => `${r.afterOpen ? 'after' : 'before'} open ${r.type} ${r.path} (${r.bytes ?? '?'} B, ${r.encoding ?? '?'})`).join('; ')}.`,
    'Playwright moves the mouse onto the launcher just before it clicks, so a panel prefetched on hover has next to no head start: the click → focus time includes fetching the panel.',
  );
}
