// The widget on screens short of room: a phone held sideways (wide, but under 400 px high), and
// the earlier conversations named by a first message that is one long word (a pasted link) or
// that has an emoji where the name is cut; and forced colours, where backgrounds are dropped.
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { describeBrowser, embedPage, shadow } from '../helpers/browser.js';
import { see } from '../helpers/see.js';
import { eachWithPublicBot, GREETING, openWidget, replies, say, type PublicBotVisit } from './widget-visit.js';

let visit: PublicBotVisit;

/** A host page made for phones (it has the viewport tag), with the widget. */
async function phonePage(page: Page): Promise<void> {
  const { site, parley, bot } = visit;
  const spec = embedPage({ parleyUrl: parley.url, attributes: { chatbot: bot.slug, theme: 'light' } });
  spec.html = spec.html.replace('<meta charset="utf-8">', '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">');
  await page.goto(site.page(`/phone-${bot.slug}`, spec));
}

describeBrowser('the widget held sideways on a phone', () => {
  eachWithPublicBot((given) => (visit = given), { context: { viewport: { width: 844, height: 390 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 } });

  it('fills the screen, and keeps the composer in the part of the page the visitor sees', async () => {
    const page = await visit.context.newPage();
    await phonePage(page);
    const w = shadow(page);
    await w.launcher.tap();
    await see(w.messages('assistant')).contains(GREETING);
    // Sideways, a box 112 px short of the screen left a log of about five lines.
    const panel = await w.panel.boundingBox();
    expect(panel).toMatchObject({ x: 0, y: 0, width: 844, height: 390 });
    // The on-screen keyboard (here a pinch, which shrinks what the visitor sees the same way).
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setPageScaleFactor', { pageScaleFactor: 2 });
    const placement = () =>
      page.evaluate(() => {
        const window = globalThis as any;
        const box = window.document.querySelector('parley-widget').shadowRoot.querySelector('form[part=composer]').getBoundingClientRect();
        const view = window.visualViewport;
        return { zoomed: view.scale > 1.5, inside: box.top >= view.offsetTop - 0.5 && box.bottom <= view.offsetTop + view.height + 0.5 };
      });
    await expect.poll(placement).toMatchObject({ zoomed: true, inside: true });
  });
});

describeBrowser('the earlier conversations, named by their first message', () => {
  eachWithPublicBot((given) => (visit = given));

  it('wraps a conversation named by one long word inside the list, with no sideways scrolling', async () => {
    const page = await openWidget(visit);
    const w = shadow(page);
    const link = 'https://shop.example.com/orders/' + 'A1B2C3D4E5'.repeat(12);
    await say(page, link);
    await see(replies(page)).count(1);
    await w.part('history').click();
    const list = w.part('conversations');
    await see(list.locator('button')).count(1);
    const fits = await list.evaluate((element) => ({ scroll: element.scrollWidth, client: element.clientWidth }));
    expect(fits.scroll).toBeLessThanOrEqual(fits.client);
    const button = await list.locator('button').first().boundingBox();
    const box = await list.boundingBox();
    expect(button!.x + button!.width).toBeLessThanOrEqual(box!.x + box!.width + 0.5);
  });

  it('names a conversation by whole characters: an emoji at the cut is kept whole or left out, never halved', async () => {
    const page = await openWidget(visit);
    const w = shadow(page);
    const messages = ['a'.repeat(79) + '👍 thanks', 'b'.repeat(75) + '👩‍👩‍👧 family order'];
    for (const [i, text] of messages.entries()) {
      if (i > 0) await w.part('new').click();
      await say(page, text);
      await see(replies(page)).count(1);
    }
    await w.part('history').click();
    const titles = await w.part('conversations').locator('button').evaluateAll((buttons) => buttons.map((button) => String(button.firstChild?.textContent)));
    expect(titles).toHaveLength(2);
    const graphemes = (text: string) => Array.from(new Intl.Segmenter().segment(text), (s) => s.segment);
    for (const [i, title] of titles.reverse().entries()) {
      expect(title.length).toBeGreaterThan(70);
      // A prefix of the message that ends between two characters as the visitor sees them.
      const whole = graphemes(messages[i]!);
      expect(whole.slice(0, graphemes(title).length).join('')).toBe(title);
    }
  });
});

describeBrowser('the widget in forced colours (Windows High Contrast)', () => {
  eachWithPublicBot((given) => (visit = given));

  it("draws the launcher, each message and the send button by a border, as the theme's backgrounds are gone", async () => {
    const page = await openWidget(visit);
    await page.emulateMedia({ forcedColors: 'active' });
    await say(page, 'Hi');
    await see(replies(page)).count(1);
    const selectors = ['button[part=launcher]', '[data-role=user]', '[data-role=assistant]:not([data-greeting])', '[data-greeting]', 'button[part=send]'];
    for (const selector of selectors) {
      const border = await page.locator(`parley-widget ${selector}`).first().evaluate((element) => {
        const style = (globalThis as any).getComputedStyle(element);
        return { style: style.borderTopStyle as string, width: parseFloat(style.borderTopWidth) };
      });
      expect(border.style, selector).toBe('solid');
      expect(border.width, selector).toBeGreaterThanOrEqual(1);
    }
  });
});
