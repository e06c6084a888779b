// A host page (or user-generated content on it: a forum post, a CMS block whose sanitizer
// keeps `id`) has an element with id="Parley", e.g. a heading anchor for a section named Parley.
// Browsers expose it as window.Parley (named access), and the loader's "once per page" check
// (`!('Parley' in window)`) takes it for a second copy of the widget: no launcher is ever drawn.
import type { BrowserContext } from 'playwright-core';
import { expect, it } from 'vitest';
import { describeBrowser, embedPage, shadow, type HostSite, type ParleyServer } from '../helpers/browser.js';
import { eachWithPublicBot, type PublicBotVisit } from './widget-visit.js';

let parley: ParleyServer;
let site: HostSite;
let bot: { id: string; slug: string };
let context: BrowserContext;
const useVisit = (given: PublicBotVisit) => void ({ parley, site, bot, context } = given);

describeBrowser('an element named Parley on the host page', () => {
  eachWithPublicBot(useVisit);

  for (const [what, body] of [
    ['a heading with id="Parley"', '<main><h1>Our shop</h1><h2 id="Parley">Parley, our new chat</h2><p>Ask us anything.</p></main>'],
    ['a user post with <img name="Parley">', '<main><h1>Forum</h1><article><p>Look:</p><img name="Parley" alt="" src="data:,"></article></main>'],
  ] as const) {
    it(`still draws the launcher next to ${what}`, async () => {
      const page = await context.newPage();
      await page.goto(site.page(`/clobber-${bot.slug}-${what.length}`, embedPage({ parleyUrl: parley.url, attributes: { chatbot: bot.slug }, body })));
      await expect.poll(() => shadow(page).launcher.count(), { timeout: 5000 }).toBe(1);
    });
  }
});
