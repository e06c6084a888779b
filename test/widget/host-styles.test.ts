// Host pages whose own CSS reaches the widget's element. A shadow root keeps the page's selectors
// out, but not what the page sets on the <parley-widget> element itself: a page's rule wins over
// the widget's own :host rule, and inherited properties (font size, letter spacing, text
// transform) flow from it into everything inside. Real pages do this without aiming at the
// widget: a reset that unsets every element (`all: unset`, "The New CSS Reset"), a layout rule
// for every child of <body>.
import type { BrowserContext, Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { describeBrowser, runAxe, shadow, type HostSite, type ParleyServer } from '../helpers/browser.js';
import { see } from '../helpers/see.js';
import { GREETING, eachWithPublicBot, replies, say, type PublicBotVisit } from './widget-visit.js';

let parley: ParleyServer;
let site: HostSite;
let bot: { id: string; slug: string };
let context: BrowserContext;
const useVisit = (given: PublicBotVisit) => void ({ parley, site, bot, context } = given);

const VIEWPORT = { width: 1024, height: 700 };

const STYLES = {
  'a reset that unsets every element ("The New CSS Reset")':
    '*:where(:not(html, iframe, canvas, img, svg, video, audio):not(svg *, symbol *)) { all: unset; display: revert; }',
  'a layout rule for every child of <body>':
    'body > * { position: relative; z-index: 1; max-width: 640px; margin: 40px auto; font-size: 40px; letter-spacing: 6px; text-transform: uppercase; line-height: 3; overflow: hidden; }',
} as const;

/** Where the launcher, the panel and a message are, and how the message's text is set. */
function layout(page: Page) {
  return page.evaluate(() => {
    const root = (globalThis as any).document.querySelector('parley-widget').shadowRoot;
    const box = (element: any) => {
      if (!element || element.hidden) return null;
      const { x, y, width, height } = element.getBoundingClientRect();
      return { x: Math.round(x), y: Math.round(y), right: Math.round(x + width), bottom: Math.round(y + height) };
    };
    const message = root.querySelector('[part~=message] p');
    const style = message ? (globalThis as any).getComputedStyle(message) : null;
    return {
      launcher: box(root.querySelector('[part=launcher]')),
      panel: box(root.querySelector('[part=panel]')),
      text: style && { fontSize: style.fontSize, letterSpacing: style.letterSpacing, textTransform: style.textTransform },
    };
  });
}

const CORNER = expect.objectContaining({ right: VIEWPORT.width - 20, bottom: VIEWPORT.height - 20 });

/** A page long enough to scroll, with the widget's tag, and the stylesheet at `stylesheet` when given. */
function longPage(stylesheet: string | null): string {
  const link = stylesheet ? `<link rel="stylesheet" href="${stylesheet}">` : '';
  return [
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Long page</title>${link}</head><body>`,
    '<main><h1>Our story</h1><p>A long read.</p><div style="height: 2400px"></div></main>',
    `<script src="${parley.url}/widget.js" data-chatbot="${bot.slug}" async></script>`,
    '</body></html>',
  ].join('\n');
}

/** The open panel is inside the window, above the launcher. */
function expectPanelAboveLauncher(shown: Awaited<ReturnType<typeof layout>>): void {
  expect(shown.panel!.y).toBeGreaterThanOrEqual(0);
  expect(shown.panel!.bottom).toBeLessThanOrEqual(shown.launcher!.y);
}

/** The element a visitor's click at the centre of the launcher lands on, looking through shadow roots. */
function hitsLauncher(page: Page) {
  return page.evaluate(() => {
    const doc = (globalThis as any).document;
    const launcher = doc.querySelector('parley-widget').shadowRoot.querySelector('[part=launcher]');
    const { x, y, width, height } = launcher.getBoundingClientRect();
    let hit = doc.elementFromPoint(x + width / 2, y + height / 2);
    while (hit?.shadowRoot?.elementFromPoint(x + width / 2, y + height / 2) && hit.shadowRoot.elementFromPoint(x + width / 2, y + height / 2) !== hit) {
      hit = hit.shadowRoot.elementFromPoint(x + width / 2, y + height / 2);
    }
    return launcher === hit || launcher.contains(hit);
  });
}

describeBrowser("the widget on host pages whose own CSS reaches its element", () => {
  eachWithPublicBot(useVisit, { context: { viewport: VIEWPORT } });

  for (const [what, css] of Object.entries(STYLES)) {
    it(`keeps its corner, its panel on screen and its own type under ${what}`, async () => {
      const html = [
        '<!doctype html>',
        '<html lang="en">',
        `<head><meta charset="utf-8"><title>Host page</title><link rel="stylesheet" href="/site.css"></head>`,
        '<body>',
        '<main><h1>Our shop</h1><p>Everything you need, delivered tomorrow.</p></main>',
        // Content of the page's own that sits above ordinary content, as cookie bars and headers do.
        '<div class="bar">Free delivery this week</div>',
        `<script src="${parley.url}/widget.js" data-chatbot="${bot.slug}" async></script>`,
        '</body>',
        '</html>',
      ].join('\n');
      site.page('/site.css', { html: `${css}\n.bar { position: relative; z-index: 10; }`, headers: { 'content-type': 'text/css' } });
      const page = await context.newPage();
      await page.goto(site.page(`/styled-${bot.slug}`, { html }));
      const w = shadow(page);
      await see(w.launcher).visible();

      // The launcher sits 20 px from the window's bottom-right corner, and a click there reaches it.
      await expect.poll(async () => (await layout(page)).launcher).toEqual(CORNER);
      expect(await hitsLauncher(page)).toBe(true);

      await w.launcher.click();
      await see(w.messages('assistant')).contains(GREETING);
      await say(page, 'Do you deliver on Sundays?');
      await see(replies(page)).texts(['You said: Do you deliver on Sundays?']);

      // The whole panel is inside the window, above the launcher, and its text is the widget's own.
      const shown = await layout(page);
      expect(shown.panel).not.toBeNull();
      expect(shown.panel!.x).toBeGreaterThanOrEqual(0);
      expect(shown.panel!.y).toBeGreaterThanOrEqual(0);
      expect(shown.panel!.right).toBeLessThanOrEqual(VIEWPORT.width);
      expect(shown.panel!.bottom).toBeLessThanOrEqual(shown.launcher!.y);
      expect(shown.text).toEqual({ fontSize: '15px', letterSpacing: 'normal', textTransform: 'none' });
      expect(await runAxe(page, 'parley-widget')).toEqual([]);
    });
  }

  // A transform, a filter or containment on <body> (page-transition libraries, "GPU" hacks) makes
  // fixed boxes inside it move with the page: the launcher sat at the page's end, out of sight.
  it('keeps its corner while the page scrolls under a <body> with a transform, and opens in the window when one is set later', async () => {
    site.page('/moved.css', { html: 'body { transform: translateZ(0); margin: 0; }', headers: { 'content-type': 'text/css' } });
    const page = await context.newPage();
    await page.goto(site.page(`/long-${bot.slug}`, { html: longPage('/moved.css') }));
    const w = shadow(page);
    await see(w.launcher).visible();
    await expect.poll(async () => (await layout(page)).launcher).toEqual(CORNER);
    await page.mouse.wheel(0, 1200);
    await expect.poll(() => page.evaluate(() => (globalThis as any).scrollY)).toBeGreaterThan(1000);
    expect((await layout(page)).launcher).toEqual(CORNER);
    expect(await hitsLauncher(page)).toBe(true);
    await w.launcher.click();
    await see(w.messages('assistant')).contains(GREETING);
    const shown = await layout(page);
    expectPanelAboveLauncher(shown);
    expect(await runAxe(page, 'parley-widget')).toEqual([]);

    // A page without one sets a transform on <body> after the widget drew (a page transition) and opens the chat.
    const plain = await context.newPage();
    await plain.goto(site.page(`/plain-${bot.slug}`, { html: longPage(null) }));
    await see(shadow(plain).launcher).visible();
    await plain.evaluate(() => {
      const doc = (globalThis as any).document;
      doc.body.style.transform = 'translateY(0)';
      (globalThis as any).scrollTo(0, 800);
      (globalThis as any).Parley.open();
    });
    await see(shadow(plain).messages('assistant')).contains(GREETING);
    const opened = await layout(plain);
    expect(opened.launcher).toEqual(CORNER);
    expectPanelAboveLauncher(opened);
  });

  // Page-transition libraries put a class on <body> or <html> for the length of a transition, and
  // their CSS gives <body> a transform meanwhile: a closed launcher must not leave its corner then.
  it('keeps a closed launcher in its corner while a transition class gives <body> a transform for a moment', async () => {
    site.page('/transitions.css', {
      html: 'body { margin: 0; } body.leaving { transform: translateY(0); } html.is-animating body { filter: opacity(1); }',
      headers: { 'content-type': 'text/css' },
    });
    const page = await context.newPage();
    await page.goto(site.page(`/transitions-${bot.slug}`, { html: longPage('/transitions.css') }));
    const w = shadow(page);
    await see(w.launcher).visible();
    await page.evaluate(() => (globalThis as any).scrollTo(0, 800));
    await expect.poll(async () => (await layout(page)).launcher).toEqual(CORNER);

    const toggle = (target: 'body' | 'html', name: string, on: boolean) =>
      page.evaluate(([t, n, o]) => {
        const doc = (globalThis as any).document;
        (t === 'body' ? doc.body : doc.documentElement).classList.toggle(n, o);
      }, [target, name, on] as const);
    for (const [target, name] of [['body', 'leaving'], ['html', 'is-animating']] as const) {
      await toggle(target, name, true);
      await expect.poll(async () => (await layout(page)).launcher).toEqual(CORNER);
      expect(await hitsLauncher(page)).toBe(true);
      await toggle(target, name, false);
      await expect.poll(async () => (await layout(page)).launcher).toEqual(CORNER);
    }
    // Back in <body> once the transition is over, where frameworks that hydrate the document expect extra elements.
    await expect.poll(() => page.evaluate(() => (globalThis as any).document.querySelector('parley-widget').parentElement.tagName)).toBe('BODY');

    await w.launcher.click();
    await see(w.messages('assistant')).contains(GREETING);
    const shown = await layout(page);
    expectPanelAboveLauncher(shown);
  });

  it('can still be hidden by the host page with display: none on its element', async () => {
    const html = [
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Checkout</title></head><body>',
      '<main><h1>Checkout</h1></main>',
      `<script src="${parley.url}/widget.js" data-chatbot="${bot.slug}" async></script>`,
      '</body></html>',
    ].join('\n');
    site.page('/hidden.css', { html: 'parley-widget { display: none; }', headers: { 'content-type': 'text/css' } });
    const page = await context.newPage();
    await page.goto(site.page(`/checkout-${bot.slug}`, { html: html.replace('</title>', '</title><link rel="stylesheet" href="/hidden.css">') }));
    await expect.poll(() => page.locator('parley-widget').count()).toBe(1);
    await see(shadow(page).launcher).hidden();
  });
});
