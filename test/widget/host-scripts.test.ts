// Host pages whose own scripts changed the language's built-ins before the widget came. The
// classic one: Prototype.js 1.6 (still behind old shops and intranets) gives every array a
// `toJSON` that returns the array already written as JSON, so JSON.stringify writes each array as
// a string. The widget keeps its visitor's conversations in localStorage as JSON; read back, the
// list of conversations was a string, the saved state was taken for another script's and
// dropped, and every message the visitor sent started a new visit: the model never saw what was
// said before, and a reload showed an empty chat.
import type { BrowserContext } from 'playwright-core';
import { expect, it } from 'vitest';
import type { FakeLlm } from '../fake-llm/fake-llm.js';
import { describeBrowser, escapeHtml, shadow, type HostSite, type ParleyServer } from '../helpers/browser.js';
import { see } from '../helpers/see.js';
import { GREETING, eachWithPublicBot, replies, say, type PublicBotVisit } from './widget-visit.js';

let parley: ParleyServer;
let site: HostSite;
let llm: FakeLlm;
let bot: { id: string; slug: string };
let context: BrowserContext;
const useVisit = (given: PublicBotVisit) => void ({ llm, parley, site, bot, context } = given);

// Prototype.js 1.6's Array#toJSON: it serialises, where JSON.stringify expects the value to serialise.
const PROTOTYPE_16 = `
Array.prototype.toJSON = function () {
  var results = [];
  for (var i = 0; i < this.length; i++) results.push(JSON.stringify(this[i]));
  return '[' + results.join(', ') + ']';
};`;

describeBrowser("the widget on a host page whose scripts changed the built-ins", () => {
  eachWithPublicBot(useVisit);

  it("keeps one conversation, across a reload, next to Prototype.js 1.6's Array#toJSON", async () => {
    site.page('/prototype.js', { html: PROTOTYPE_16, headers: { 'content-type': 'text/javascript' } });
    const html = [
      '<!doctype html>',
      '<html lang="en">',
      '<head><meta charset="utf-8"><title>Old shop</title><script src="/prototype.js"></script></head>',
      '<body><main><h1>Old shop</h1><p>Since 2008.</p></main>',
      `<script src="${escapeHtml(parley.url)}/widget.js" data-chatbot="${escapeHtml(bot.slug)}" async></script>`,
      '</body>',
      '</html>',
    ].join('\n');
    const page = await context.newPage();
    await page.goto(site.page(`/old-shop-${bot.slug}`, { html }));
    // The page's change is in place: arrays are written as strings.
    expect(await page.evaluate(() => JSON.stringify({ list: [1] }))).toBe('{"list":"[1]"}');
    const w = shadow(page);
    await w.launcher.click();
    await see(w.messages('assistant')).contains(GREETING);
    await say(page, 'My order is 5512');
    await see(replies(page)).texts(['You said: My order is 5512']);
    await say(page, 'Where is it?');
    await see(replies(page)).texts(['You said: My order is 5512', 'You said: Where is it?']);

    // One conversation, and the model was given the first message with the second.
    expect(await parley.t.count(`conversations WHERE chatbot_id = '${bot.id}'`)).toBe(1);
    expect(llm.requests.at(-1)?.messages.map((m) => m.content)).toContain('My order is 5512');

    await page.reload();
    await w.launcher.click();
    await see(w.messages('user')).texts(['My order is 5512', 'Where is it?']);
  });
});
