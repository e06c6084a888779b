// The embed tag written as a module script: `<script type="module" src=".../widget.js"
// data-chatbot="…">`, as developers write every script of a page built with modules. A module
// script has no document.currentScript, which is how the loader finds its tag (its data-*
// attributes and Parley's origin): the page got no launcher and no error either.
import type { BrowserContext } from 'playwright-core';
import { it } from 'vitest';
import { describeBrowser, escapeHtml, shadow, type HostSite, type ParleyServer } from '../helpers/browser.js';
import { see } from '../helpers/see.js';
import { GREETING, eachWithPublicBot, replies, say, type PublicBotVisit } from './widget-visit.js';

let parley: ParleyServer;
let site: HostSite;
let bot: { id: string; slug: string };
let context: BrowserContext;
const useVisit = (given: PublicBotVisit) => void ({ parley, site, bot, context } = given);

describeBrowser('the widget loaded by a module script tag', () => {
  eachWithPublicBot(useVisit);

  it('draws the launcher, reads the tag it came from and chats', async () => {
    const html = [
      '<!doctype html>',
      '<html lang="en">',
      '<head><meta charset="utf-8"><title>Host page</title>',
      // Another module script of the page's own, before the widget's tag: not taken for it.
      `<script type="module" src="/app.js" data-chatbot="not-this-one"></script>`,
      `<script type="module" src="${escapeHtml(parley.url)}/widget.js" data-chatbot="${escapeHtml(bot.slug)}" data-position="bottom-left"></script>`,
      '</head>',
      '<body><main><h1>Our shop</h1><p>Everything you need, delivered tomorrow.</p></main></body>',
      '</html>',
    ].join('\n');
    site.page('/app.js', { html: 'window.appRan = true;', headers: { 'content-type': 'text/javascript' } });
    const page = await context.newPage();
    await page.goto(site.page(`/modules-${bot.slug}`, { html }));
    const w = shadow(page);
    await see(w.launcher).visible();
    await see(w.host).attribute('data-position', 'bottom-left');
    await w.launcher.click();
    await see(w.messages('assistant')).contains(GREETING);
    await say(page, 'Is this a module?');
    await see(replies(page)).texts(['You said: Is this a module?']);
  });
});
