// The hosted chat page (GET /c/{slug}) for a visitor whose system is set to dark: until the
// widget has drawn (its script on a slow network, or blocked), the page itself must not be a
// white sheet, flashing at every visit and reload.
import { expect, it } from 'vitest';
import { createChatbot } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { meanBrightness } from '../helpers/brightness.js';
import { describeBrowser, type WidgetStage } from '../helpers/browser.js';
import { onOwnStage } from './widget-visit.js';

let stage: WidgetStage;

describeBrowser('the hosted chat page in a dark theme, before the widget draws', () => {
  onOwnStage((given) => (stage = given));

  for (const scheme of ['dark', 'light'] as const) {
    it(`is ${scheme} from its first paint when the system is ${scheme}`, async () => {
      const owner = await registerUser(stage.parley.t);
      const bot = await createChatbot(stage.parley.t, owner, { name: 'Night desk', greeting: 'Hello!', is_public: true });
      const context = await stage.browser.newContext({ viewport: { width: 640, height: 480 }, colorScheme: scheme });
      try {
        const page = await context.newPage();
        // The widget never arrives: what shows is the page alone.
        await page.route('**/widget.js', (route) => route.abort());
        await page.goto(`${stage.parley.url}/c/${bot.slug}`);
        const png = await page.screenshot();
        const brightness = await meanBrightness(page, png);
        if (scheme === 'dark') expect(brightness).toBeLessThan(128);
        else expect(brightness).toBeGreaterThan(128);
      } finally {
        await context.close();
      }
    });
  }
});
