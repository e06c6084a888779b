// The harness the widget's browser tests stand on: if these pass, a widget test that finds no CSP
// violation, no axe violation or no injected code found none because there was none, not because
// the detector was blind.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { cspWatch, describeBrowser, embedPage, launchBrowser, pwnedWatch, runAxe, shadow, startHostSite, startParleyServer, type HostSite } from '../helpers/browser.js';

const STRICT_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'";

describeBrowser('the real-browser harness', () => {
  let browser: Browser;
  let site: HostSite;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser();
    site = await startHostSite();
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });
  beforeEach(async () => {
    context = await browser.newContext();
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  it('serves a page whose strict CSP header reaches Chromium and is enforced', async () => {
    const csp = cspWatch(page);
    const url = site.page('/strict', {
      html: '<!doctype html><html lang="en"><head><title>Strict</title></head><body><p>Strict</p><script>window.inlineRan = true</script></body></html>',
      headers: { 'content-security-policy': STRICT_CSP },
    });
    const response = await page.goto(url);
    expect(response?.headers()['content-security-policy']).toBe(STRICT_CSP);
    expect(await page.evaluate(() => (globalThis as any).inlineRan)).toBeUndefined();
    await expect.poll(() => csp.violations.join('\n')).toMatch(/inline script/i);
  });

  it('answers 404 for a path no test registered', async () => {
    const response = await page.goto(`${site.url}/nothing-here`);
    expect(response?.status()).toBe(404);
    expect(site.requests).toContain('/nothing-here');
  });

  it('embeds a script from another origin with escaped data attributes, allowed by the CSP', async () => {
    // A stand-in for Parley's loader, on a second site: the embed snippet and the CSP work before the widget exists.
    const parley = await startHostSite();
    try {
      parley.page('/widget.js', {
        html: 'window.loaderSaw = { chatbot: document.currentScript.dataset.chatbot, theme: document.currentScript.dataset.theme };',
        headers: { 'content-type': 'text/javascript' },
      });
      const spec = embedPage({ parleyUrl: parley.url, attributes: { chatbot: 'a"b<c>&d', 'data-theme': 'dark' }, csp: `default-src 'none'; script-src ${parley.url}` });
      expect(spec.html).toContain(`<script src="${parley.url}/widget.js" async data-chatbot="a&quot;b&lt;c&gt;&amp;d" data-theme="dark"></script>`);
      const csp = cspWatch(page);
      await page.goto(site.page('/embed', spec));
      await page.waitForFunction(() => (globalThis as any).loaderSaw !== undefined);
      expect(await page.evaluate(() => (globalThis as any).loaderSaw)).toEqual({ chatbot: 'a"b<c>&d', theme: 'dark' });
      expect(csp.violations).toEqual([]);
    } finally {
      await parley.close();
    }
  });

  it('finds no serious axe violation on an accessible page, even under a strict CSP', async () => {
    const csp = cspWatch(page);
    await page.goto(
      site.page('/accessible', {
        html: '<!doctype html><html lang="en"><head><title>Fine</title></head><body><main><h1>Fine</h1><button type="button">Send</button></main></body></html>',
        headers: { 'content-security-policy': STRICT_CSP },
      }),
    );
    expect(await runAxe(page)).toEqual([]);
    // Running axe must not itself count as a violation of the page's policy.
    expect(csp.violations).toEqual([]);
  });

  it('finds an unlabeled button, inside an open shadow root too', async () => {
    await page.goto(
      site.page('/unlabeled', {
        html: '<!doctype html><html lang="en"><head><title>Bad</title></head><body><main><h1>Bad</h1><button type="button"></button><div id="host"></div></main></body></html>',
      }),
    );
    await page.evaluate(() => {
      const doc = (globalThis as any).document;
      doc.getElementById('host').attachShadow({ mode: 'open' }).innerHTML = '<button type="button" part="launcher"></button>';
    });
    const violations = await runAxe(page);
    const buttonName = violations.find((v) => v.id === 'button-name');
    expect(buttonName?.impact).toBe('critical');
    expect(buttonName?.nodes).toEqual(['button', '#host >>> button[part="launcher"]']);
  });

  it('catches markup that ran as code and dialogs', async () => {
    const watch = await pwnedWatch(page);
    await page.goto(site.page('/sink', { html: '<!doctype html><html lang="en"><head><title>Sink</title></head><body><div id="out"></div></body></html>' }));
    await page.evaluate(() => {
      (globalThis as any).document.getElementById('out').innerHTML = `<img src=x onerror="__pwned('x')">`;
    });
    await expect.poll(() => watch.hits).toContain('x');
    await page.evaluate(() => (globalThis as any).alert('boo'));
    expect(watch.hits).toContain('dialog:boo');
  });

  it('reaches into an open shadow root with the widget part locators', async () => {
    await page.goto(site.page('/parts', { html: '<!doctype html><html lang="en"><head><title>Parts</title></head><body></body></html>' }));
    await page.evaluate(() => {
      const doc = (globalThis as any).document;
      const host = doc.createElement('parley-widget');
      host.attachShadow({ mode: 'open' }).innerHTML = '<button part="launcher">Chat</button><textarea part="input" aria-label="Message"></textarea>';
      doc.body.append(host);
    });
    const w = shadow(page);
    await expect.poll(() => w.launcher.textContent()).toBe('Chat');
    await w.input.focus();
    expect(await w.focusedPart()).toBe('input');
  });

  it('starts Parley on a loopback port of its own, public limits relaxed unless the test sets them', async () => {
    const server = await startParleyServer({ RATE_LIMIT_PUBLIC_IP: '7/1m' });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(server.url).not.toBe(site.url);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      expect(server.t.config.rateLimits).toMatchObject({ publicVisitor: { limit: 10000 }, publicChatbot: { limit: 10000 }, publicIp: { limit: 7 } });
    } finally {
      await server.close();
    }
  });
});
