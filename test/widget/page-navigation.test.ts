// Host sites that navigate without loading a page: Turbo (Rails' default) fetches the next page
// and swaps the document's <body> for the new one, htmx's boost swaps the content of <body>, both
// keeping the JavaScript that already ran. Turbo keeps the scripts of <head> as they are; both run
// the scripts of the new content. A widget inside the old <body> leaves with it; the visitor, mid-chat,
// sees the bubble vanish on the first link they follow, and the copy of the tag in the new body
// draws nothing because the widget runs once per page.
import type { BrowserContext, Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { describeBrowser, shadow, type HostSite, type ParleyServer } from '../helpers/browser.js';
import { see } from '../helpers/see.js';
import { GREETING, replies, say, eachWithPublicBot, type PublicBotVisit } from './widget-visit.js';

let parley: ParleyServer;
let site: HostSite;
let bot: { id: string; slug: string };
let context: BrowserContext;
const useVisit = (given: PublicBotVisit) => void ({ parley, site, bot, context } = given);

// What Turbo Drive (`body`) and htmx's boost (`content`) do on a visit, in small: the new page's
// <body> replaces the old one, or its content the old content, its scripts made anew so that they
// run, and the address changes through the History API.
const NAVIGATOR = `
window.visit = async (path, swap) => {
  const html = await (await fetch(path)).text();
  const next = document.adoptNode(new DOMParser().parseFromString(html, 'text/html').body);
  for (const old of next.querySelectorAll('script')) {
    const script = document.createElement('script');
    for (const { name, value } of old.attributes) script.setAttribute(name, value);
    script.textContent = old.textContent;
    old.replaceWith(script);
  }
  if (swap === 'body') document.body.replaceWith(next);
  else document.body.replaceChildren(...next.childNodes);
  history.pushState({}, '', path);
};`;

function sitePage(title: string, tagIn: 'head' | 'body'): string {
  const tag = `<script src="${parley.url}/widget.js" data-chatbot="${bot.slug}" async></script>`;
  return [
    '<!doctype html>',
    '<html lang="en">',
    `<head><meta charset="utf-8"><title>${title}</title><script src="/navigator.js"></script>${tagIn === 'head' ? tag : ''}</head>`,
    '<body>',
    `<main><h1>${title}</h1><p>Everything you need, delivered tomorrow.</p></main>`,
    tagIn === 'body' ? tag : '',
    '</body>',
    '</html>',
  ].join('\n');
}

const live = (page: Page) => page.evaluate(() => (globalThis as any).document.querySelector('[data-parley-live]')?.isConnected === true);

describeBrowser('the widget on a site that navigates by swapping its <body> or its content', () => {
  eachWithPublicBot((visit) => {
    useVisit(visit);
    site.page('/navigator.js', { html: NAVIGATOR, headers: { 'content-type': 'text/javascript' } });
  });

  for (const [swap, tagIn] of [
    ['body', 'head'],
    ['body', 'body'],
    ['content', 'body'],
  ] as const) {
    it(`stays, with the conversation open, across a swap of the ${swap === 'body' ? '<body>' : "<body>'s content"} (the tag in <${tagIn}>)`, async () => {
      const first = site.page(`/shop-${swap}-${tagIn}-${bot.slug}`, { html: sitePage('Our shop', tagIn) });
      const next = site.page(`/delivery-${swap}-${tagIn}-${bot.slug}`, { html: sitePage('Delivery', tagIn) });
      const page = await context.newPage();
      await page.goto(first);
      const w = shadow(page);
      await w.launcher.click();
      await see(w.messages('assistant')).contains(GREETING);
      await say(page, 'Where do you deliver?');
      await see(replies(page)).texts(['You said: Where do you deliver?']);

      await page.evaluate(([path, how]) => (globalThis as any).visit(path, how), [new URL(next).pathname, swap]);
      await see(page.getByRole('heading', { level: 1 })).texts(['Delivery']);

      // One launcher, the panel still open on the same conversation, and the chat goes on there.
      await see(w.launcher).visible();
      await see(w.launcher).count(1);
      await see(w.panel).visible();
      await see(replies(page)).texts(['You said: Where do you deliver?']);
      await say(page, 'And on Sundays?');
      await see(replies(page)).texts(['You said: Where do you deliver?', 'You said: And on Sundays?']);
      expect(await parley.t.count(`conversations WHERE chatbot_id = '${bot.id}'`)).toBe(1);
      // The reply is announced from the new page's <body>, as before the navigation.
      await expect.poll(() => live(page)).toBe(true);
      await expect.poll(() => page.locator('[data-parley-live]').textContent()).toContain('You said: And on Sundays?');
    });
  }
});
