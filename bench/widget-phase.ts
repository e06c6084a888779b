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
import { gzipSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import { postJson, type ChatApi } from './client.js';
import { atMost, num, ratio, withUnit, type Row, type Section } from './report.js';
import { coldLoad, startHostSite, type Load, type LongTask, type ParleyRequest, type Site } from './widget-loads.js';

const LOADS = 7;
const SLOW = 4;
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// As test/helpers/browser.ts: no sandbox (root in a container), and no calls home to add noise.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const dash = '—';

export const WIDGET_METHOD = `Headless Chromium (playwright-core, Debian's build) loads an article page (≈ 5 KB of text) from a host site on another loopback port, without the widget ("Baseline") and with its \`<script src=…/widget.js async data-chatbot=…>\` ("Parley"), against this Parley and a public chatbot with no allowed origins, and with a one-line async script from a third loopback origin that only marks \`parley-launcher\` (the floor: what any cross-origin script costs on this machine). Every load is cold (a new browser context: empty cache, new connections); one discarded warm-up of each page, then ${LOADS} loads of each, alternating, at normal CPU speed and with the CPU slowed 4× (DevTools \`Emulation.setCPUThrottlingRate\`). Times are read in the page: the navigation entry's \`loadEventEnd\`, the widget's \`performance.mark\`s (\`parley-launcher\` once the launcher is in the DOM, \`parley-open\` when a click starts opening, \`parley-ready\` once the panel's input has focus) and \`longtask\` entries from a PerformanceObserver installed before the page's own scripts. At 4× each load with the widget then clicks the launcher.`;


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
