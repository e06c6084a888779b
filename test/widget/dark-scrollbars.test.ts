// The panel in the dark theme on a desktop with classic scrollbars (Windows, most Linux): a long
// conversation scrolls, and its scrollbar must be dark too. The harness's Chromium hides
// scrollbars (Playwright's headless default), so this file launches its own that draws them.
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { meanBrightness } from '../helpers/brightness.js';
import { CHROMIUM_PATH, describeBrowser, embedPage, shadow } from '../helpers/browser.js';
import { see } from '../helpers/see.js';
import { eachWithPublicBot, GREETING, replies, say, type PublicBotVisit } from './widget-visit.js';

let visit: PublicBotVisit;
let drawing: Browser;

describeBrowser('the dark panel on a desktop with classic scrollbars', () => {
  eachWithPublicBot((given) => (visit = given));
  beforeAll(async () => {
    drawing = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox', '--disable-gpu'], ignoreDefaultArgs: ['--hide-scrollbars'] });
  });
  afterAll(() => drawing?.close());

  it('draws the scrolling log with a dark scrollbar, not a bright strip down the dark panel', async () => {
    const { site, parley, bot, llm } = visit;
    llm.setReply(() => Array.from({ length: 40 }, (_, i) => `Line ${i} of a long answer.`).join('\n\n'));
    const context = await drawing.newContext({ viewport: { width: 1280, height: 720 } });
    try {
      const page = await context.newPage();
      await page.goto(site.page(`/dark-${bot.slug}`, embedPage({ parleyUrl: parley.url, attributes: { chatbot: bot.slug, theme: 'dark' } })));
      await shadow(page).launcher.click();
      await see(shadow(page).messages('assistant')).contains(GREETING);
      await say(page, 'Tell me a lot');
      await see(replies(page).first()).attribute('data-status', 'complete');
      const log = shadow(page).log;
      const box = (await log.boundingBox())!;
      const gutter = await log.evaluate((element) => element.offsetWidth - element.clientWidth);
      expect(gutter).toBeGreaterThan(0);
      const png = await page.screenshot({ clip: { x: box.x + box.width - gutter, y: box.y, width: gutter, height: box.height } });
      const brightness = await meanBrightness(page, png);
      expect(brightness).toBeLessThan(128);
    } finally {
      await context.close();
    }
  });
});
