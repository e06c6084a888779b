// A real browser for the widget's tests: Debian's Chromium driven by playwright-core, Parley
// listening on a loopback port, and a "host site" on another port (another origin) whose pages
// embed the widget, each with the headers (CSP) the test wants.
//
// Code handed to page.evaluate is serialized with Function.prototype.toString and runs in the
// page: it must not call helpers from this module, and it holds no `const f = () => …` (a
// transform that keeps function names would wrap those in a helper the page does not have).
import { accessSync, constants, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { beforeAll, describe } from 'vitest';
import type { Env } from '../../src/config/config.js';
import { startFakeLlm, type FakeLlm, type FakeLlmOptions } from '../fake-llm/fake-llm.js';
import { fakeLlmEnv } from './chat.js';
import { createTestApp, type TestApp } from './app.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// No sandbox: tests may run as root in a container, where Chromium's sandbox refuses to start.
// The rest keeps Chromium from calling home, which would be noise (and hangs) on an offline box.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const missingMessage = () => `Chromium not found at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`;

export function browserAvailable(): boolean {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function launchBrowser(): Promise<Browser> {
  if (!browserAvailable()) throw new Error(missingMessage());
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/**
 * `describe` for tests that need Chromium. Without it they are skipped with the reason in their
 * name, except with CI=true, where a skip would hide that nothing was tested: there they fail.
 */
export function describeBrowser(name: string, body: () => void): void {
  if (browserAvailable()) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      beforeAll(() => {
        throw new Error(`${missingMessage()}; with CI=true the browser tests must run, not be skipped`);
      });
      body();
    });
  } else {
    describe.skip(`${name} (skipped: ${missingMessage()})`, body);
  }
}

// ---------------------------------------------------------------------------------------------
// Parley on a real port

export interface ParleyServer {
  t: TestApp;
  /** http://127.0.0.1:PORT, no trailing slash. */
  url: string;
  close(): Promise<void>;
}

/**
 * A test app listening on loopback, so a browser can load widget.js and talk to the API. The
 * public limits are relaxed (a test's page loads count as one visitor on one address); `env` wins.
 */
export async function startParleyServer(env: Env = {}): Promise<ParleyServer> {
  const t = await createTestApp({ RATE_LIMIT_PUBLIC_VISITOR: '10000/1m', RATE_LIMIT_PUBLIC_IP: '10000/1m', RATE_LIMIT_PUBLIC_CHATBOT: '10000/1m', ...env });
  try {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
  } catch (error) {
    await t.close();
    throw error;
  }
  const { port } = t.app.server.address() as AddressInfo;
  return { t, url: `http://127.0.0.1:${port}`, close: () => t.close() };
}

// ---------------------------------------------------------------------------------------------
// The host site: the customer's pages, on their own origin

export interface PageSpec {
  html: string;
  /** Win over the defaults (text/html, no-store); e.g. Content-Security-Policy. */
  headers?: Record<string, string>;
  status?: number;
}

export interface HostSite {
  /** http://127.0.0.1:PORT, no trailing slash. */
  url: string;
  /** Serves `spec` at `path` (query strings ignored) and returns its full URL. */
  page(path: string, spec: PageSpec): string;
  /** Paths asked for, in order (404s included). */
  requests: string[];
  close(): Promise<void>;
}

export async function startHostSite(): Promise<HostSite> {
  const pages = new Map<string, PageSpec>();
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://host.invalid').pathname;
    requests.push(path);
    const spec = pages.get(path);
    if (!spec) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
      return;
    }
    // no-store: each test's page is read fresh even when a test re-registers the same path.
    res.writeHead(spec.status ?? 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...spec.headers }).end(spec.html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    page(path, spec) {
      pages.set(path, spec);
      return url + path;
    },
    close() {
      // Chromium keeps connections alive; without this close() would wait for them.
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export interface EmbedOptions {
  parleyUrl: string;
  /** Names without `data-` (`chatbot`, `user-token`, …); a name already starting with `data-` is kept. */
  attributes: Record<string, string>;
  /** Sent as the Content-Security-Policy header (a header, unlike <meta>, covers the whole page). */
  csp?: string;
  lang?: string;
  /** What the page shows besides the widget; a heading and a paragraph when absent. */
  body?: string;
}

/** A host page with the embed snippet, ready for `site.page(path, embedPage(…))`. */
export function embedPage(options: EmbedOptions): PageSpec {
  const attributes = Object.entries(options.attributes)
    .map(([name, value]) => ` ${escapeHtml(name.startsWith('data-') ? name : `data-${name}`)}="${escapeHtml(value)}"`)
    .join('');
  const body = options.body ?? '<main><h1>Our shop</h1><p>Everything you need, delivered tomorrow.</p></main>';
  const html = [
    '<!doctype html>',
    `<html lang="${escapeHtml(options.lang ?? 'en')}">`,
    '<head><meta charset="utf-8"><title>Host page</title></head>',
    '<body>',
    body,
    `<script src="${escapeHtml(options.parleyUrl)}/widget.js" async${attributes}></script>`,
    '</body>',
    '</html>',
  ].join('\n');
  return { html, headers: options.csp ? { 'content-security-policy': options.csp } : {} };
}

// ---------------------------------------------------------------------------------------------
// Watching the page

/**
 * Injection detector: payloads in tests call `__pwned('name')` (or open a dialog); anything in
 * `hits` means text became code. Call before navigating; it holds for every later navigation.
 */
export async function pwnedWatch(page: Page): Promise<{ hits: string[] }> {
  const hits: string[] = [];
  await page.exposeFunction('__pwned', (name: unknown) => {
    hits.push(String(name));
  });
  page.on('dialog', (dialog) => {
    hits.push(`dialog:${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  return { hits };
}

/**
 * Content-Security-Policy violations Chromium reports on the console (its wording changes between
 * versions; each names the Content Security Policy). Under a strict policy the widget must cause
 * none. Reports can arrive a moment after the load: poll before expecting some. Call before navigating.
 */
export function cspWatch(page: Page): { violations: string[] } {
  const violations: string[] = [];
  page.on('console', (message) => {
    const text = message.text();
    if (/Content Security Policy/i.test(text)) violations.push(text);
  });
  return { violations };
}

export interface AxeViolation {
  id: string;
  impact: 'serious' | 'critical';
  help: string;
  /** One CSS path per node; inside a shadow root the path's steps are joined with " >>> ". */
  nodes: string[];
}

let axeSource: string | undefined;

/**
 * Serious and critical axe-core violations on the page (or within `context`, an axe context such
 * as a selector). axe walks open shadow roots on its own. Its source is evaluated over the
 * DevTools protocol rather than added as a <script>: that works under a strict CSP and leaves no
 * blocked-inline-script report behind for a test counting the widget's CSP violations.
 */
export async function runAxe(page: Page, context?: unknown): Promise<AxeViolation[]> {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof (globalThis as any).axe === 'object'))) {
    await page.evaluate(axeSource);
  }
  return page.evaluate(async (context) => {
    const axe = (globalThis as any).axe;
    const result = await axe.run(context ?? (globalThis as any).document, { resultTypes: ['violations'] });
    return (result.violations as any[])
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: (v.nodes as any[]).map((node) => (node.target as unknown[]).map((step) => (Array.isArray(step) ? step.join(' >>> ') : String(step))).join(' ')),
      }));
  }, context ?? null);
}

// ---------------------------------------------------------------------------------------------
// Inside the widget's shadow root (Playwright's CSS engine pierces open shadow roots)

export interface WidgetParts {
  host: Locator;
  launcher: Locator;
  panel: Locator;
  input: Locator;
  send: Locator;
  stop: Locator;
  log: Locator;
  /** Messages in the log, of one role or all. */
  messages(role?: 'user' | 'assistant'): Locator;
  /** Any element by its `part` token. */
  part(name: string): Locator;
  /** The `part` attribute of the focused element, looking through shadow roots; null when none. */
  focusedPart(): Promise<string | null>;
}

export function shadow(page: Page): WidgetParts {
  const inside = (selector: string) => page.locator(`parley-widget ${selector}`);
  return {
    host: page.locator('parley-widget'),
    launcher: inside('button[part=launcher]'),
    panel: inside('[role=dialog][part=panel]'),
    input: inside('textarea[part=input]'),
    send: inside('button[part=send]'),
    stop: inside('button[part=stop]'),
    log: inside('[role=log][part=log]'),
    messages: (role) => inside(role ? `[part~=message][data-role=${role}]` : '[part~=message]'),
    part: (name) => inside(`[part~="${name}"]`),
    focusedPart: () =>
      page.evaluate(() => {
        let active = (globalThis as any).document.activeElement;
        while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
        return active ? (active.getAttribute('part') as string | null) : null;
      }),
  };
}


// ---------------------------------------------------------------------------------------------
// Everything a widget test stands on

export interface WidgetStage {
  llm: FakeLlm;
  parley: ParleyServer;
  site: HostSite;
  browser: Browser;
  close(): Promise<void>;
}

/** The fake LLM, Parley on a port talking to it, a host site on another origin, and Chromium. */
export async function startWidgetStage(options: { env?: Env; llm?: FakeLlmOptions } = {}): Promise<WidgetStage> {
  const llm = await startFakeLlm(options.llm);
  const parley = await startParleyServer(fakeLlmEnv(llm.url, options.env as Record<string, string> | undefined));
  const site = await startHostSite();
  const browser = await launchBrowser();
  return {
    llm,
    parley,
    site,
    browser,
    async close() {
      await browser.close();
      await site.close();
      await parley.close();
      await llm.close();
    },
  };
}
