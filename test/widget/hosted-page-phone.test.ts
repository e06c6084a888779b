// The hosted chat page (GET /c/{slug}) on a phone, for a chatbot with a long name: the header's
// title must leave its buttons on screen, as the widget's panel does.
import { expect, it } from 'vitest';
import { createChatbot } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { describeBrowser } from '../helpers/browser.js';
import { see } from '../helpers/see.js';
import { onOwnStage } from './widget-visit.js';
import type { WidgetStage } from '../helpers/browser.js';

let stage: WidgetStage;

describeBrowser('the hosted chat page on a phone', () => {
  onOwnStage((given) => (stage = given));

  for (const name of ['Northwind Traders Customer Support Assistant', 'Kundendienstassistenzsystemberatungsstelle']) {
    it(`keeps the title on one line and every header button on screen for "${name}"`, async () => {
      const owner = await registerUser(stage.parley.t);
      const bot = await createChatbot(stage.parley.t, owner, { name, greeting: 'Hello!', is_public: true });
      const context = await stage.browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      try {
        const page = await context.newPage();
        await page.goto(`${stage.parley.url}/c/${bot.slug}`);
        const title = page.locator('parley-widget h1');
        await see(title).texts([name]);
        await see(page.locator('parley-widget [part~=message][data-greeting]')).count(1);
        for (const part of ['history', 'new']) {
          const box = await page.locator(`parley-widget [part~=${part}]`).boundingBox();
          expect(box, part).not.toBeNull();
          expect(box!.x + box!.width, `${part} inside the screen`).toBeLessThanOrEqual(360);
        }
        const header = await page.locator('parley-widget header[part=header]').boundingBox();
        // One line of title: the header as high as its 44 px buttons and its padding.
        expect(header!.height).toBeLessThanOrEqual(60);
        const sideways = await page.evaluate(() => {
          const root = (globalThis as any).document.querySelector('parley-widget').shadowRoot.querySelector('[part=panel]');
          return root.scrollWidth - root.clientWidth;
        });
        expect(sideways).toBe(0);
      } finally {
        await context.close();
      }
    });
  }
});
