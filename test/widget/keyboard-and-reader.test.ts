// What a screen-reader user and a keyboard-only user meet while a reply is written: the words the
// live region says, and where the focus is when the button they pressed goes away (send becomes
// stop while a reply is written, stop becomes send after it, retry hides once pressed).
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { STRINGS } from '../../widget/src/i18n.js';
import { describeBrowser, embedPage, shadow } from '../helpers/browser.js';
import { see } from '../helpers/see.js';
import { eachWithPublicBot, openWidget, replies, say, type PublicBotVisit } from './widget-visit.js';

let visit: PublicBotVisit;

/** Everything the live region is given from now on, in order (blank resets left out). */
async function listenToLiveRegion(page: Page): Promise<() => Promise<string[]>> {
  await page.locator('body > [data-parley-live]').evaluate((region) => {
    const said: string[] = [];
    (globalThis as any).__liveSaid = said;
    new (globalThis as any).MutationObserver(() => said.push(String(region.textContent))).observe(region, { childList: true, characterData: true, subtree: true });
  });
  return async () => (await page.evaluate(() => (globalThis as any).__liveSaid as string[])).filter((text) => text !== '');
}

describeBrowser('the widget for a screen-reader and keyboard-only visitor', () => {
  eachWithPublicBot((given) => (visit = given));

  it('reads a formatted reply as the words on screen, not its Markdown marks and link addresses', async () => {
    const { llm } = visit;
    llm.setReply(() =>
      [
        'Orders placed before **2 pm** ship the _same day_.',
        '',
        '- Track it on [our delivery page](https://shop.example.com/delivery?utm_source=chat&utm_medium=widget)',
        '- Quote the code `A1234` when you call',
        '',
        '```',
        'curl https://shop.example.com/track/A1234',
        '```',
      ].join('\n'),
    );
    const page = await openWidget(visit);
    // The panel's live region is made when the panel opens.
    const said = await listenToLiveRegion(page);
    await say(page, 'When do you deliver?');
    await see(replies(page).first()).attribute('data-status', 'complete');
    await expect.poll(async () => (await said()).length).toBe(1);
    const [spoken] = await said();
    // What a sighted visitor reads in the bubble, in order, each part apart from the next.
    expect(spoken).toMatch(/^Shop helper: Orders placed before 2 pm ship the same day\.\s+Track it on our delivery page\s+Quote the code A1234 when you call\s+curl https:\/\/shop\.example\.com\/track\/A1234$/);
    expect(spoken).not.toMatch(/\*\*|`|\]\(|utm_source/);
  });

  it('tells a screen reader when a reply could not be written, or was stopped, not only the sighted', async () => {
    const { llm } = visit;
    const page = await openWidget(visit);
    const said = await listenToLiveRegion(page);
    // The model fails before writing a word: a failed bubble, nothing else on screen changes.
    llm.fail({ kind: 'stream-error', afterChunks: 0 });
    await say(page, 'Where is my order?');
    await see(replies(page).first()).attribute('data-status', 'failed');
    await expect.poll(said).toEqual([`Shop helper: ${STRINGS.en.failed}`]);
    // A reply the visitor stops: what was written, and that it stopped there.
    llm.setReply(() => 'Your order left on Monday and is on its way to you now');
    llm.setDelays({ chunkDelayMs: 200 });
    await say(page, 'And now?');
    await expect.poll(() => replies(page).nth(1).textContent()).toContain('Monday');
    await shadow(page).stop.click();
    await see(replies(page).nth(1)).attribute('data-status', 'interrupted');
    await expect.poll(async () => (await said()).length).toBe(2);
    expect((await said())[1]).toMatch(new RegExp(`^Shop helper: Your order left on Monday.* ${STRINGS.en.interrupted.replace('.', '\\.')}$`));
  });

  it('keeps the focus in the composer when the send button it pressed becomes stop, and when stop becomes send again', async () => {
    const { llm } = visit;
    llm.setReply(() => 'one two three four five six seven eight');
    llm.setDelays({ chunkDelayMs: 150 });
    const page = await openWidget(visit);
    const w = shadow(page);
    await w.input.fill('When do you deliver?');
    // The visitor tabs from the box to Send and presses it with the keyboard.
    await page.keyboard.press('Tab');
    expect(await w.focusedPart()).toBe('send');
    await page.keyboard.press('Enter');
    await see(w.stop).visible();
    // Send is hidden now: its focus went to the button in its place, so Space stops the reply.
    await expect.poll(() => w.focusedPart()).toBe('stop');
    await page.keyboard.press('Space');
    await see(replies(page).first()).attribute('data-status', 'interrupted');
    await see(w.send).visible();
    // Stop is hidden now: the visitor is back in the box, ready to type the next message.
    await expect.poll(() => w.focusedPart()).toBe('input');
    await page.keyboard.type('Thanks');
    await see(w.input).value('Thanks');
  });

  it('gives the focus back to the message box when the reply ends while the visitor sits on stop', async () => {
    const { llm } = visit;
    llm.setReply(() => 'one two three four');
    llm.setDelays({ chunkDelayMs: 150 });
    const page = await openWidget(visit);
    const w = shadow(page);
    await say(page, 'Hello');
    await see(w.stop).visible();
    await w.stop.focus();
    await see(replies(page).first()).attribute('data-status', 'complete');
    await see(w.stop).hidden();
    await expect.poll(() => w.focusedPart()).toBe('input');
  });

  it('keeps the focus in the panel when the retry it pressed hides', async () => {
    const { llm, context } = visit;
    const page = await openWidget(visit);
    const w = shadow(page);
    // The connection drops as the message goes out: "Could not reach the chat" with Retry.
    await context.setOffline(true);
    await say(page, 'Are you there?');
    await see(w.part('retry')).visible();
    await context.setOffline(false);
    await w.part('retry').focus();
    await page.keyboard.press('Enter');
    await see(replies(page).first()).contains('You said: Are you there?');
    await see(w.part('retry')).hidden();
    await expect.poll(() => w.focusedPart()).toBe('input');
    expect(llm.requests).toHaveLength(1);
  });
});

describeBrowser('the widget filling the window (200% zoom on a 1280 × 720 screen), for a keyboard-only visitor', () => {
  eachWithPublicBot((given) => (visit = given), { context: { viewport: { width: 640, height: 360 } } });

  it('keeps Tab and Shift+Tab among its own controls, never on the page hidden behind it', async () => {
    const { site, parley, bot, context } = visit;
    const body = '<header><nav><a href="#products">Products</a> <a href="#delivery">Delivery</a></nav></header><main><h1>Our shop</h1><p><a href="#bread">Fresh bread</a></p></main>';
    const page = await context.newPage();
    await page.goto(site.page(`/zoomed-${bot.slug}`, embedPage({ parleyUrl: parley.url, attributes: { chatbot: bot.slug }, body })));
    const w = shadow(page);
    await w.launcher.focus();
    await page.keyboard.press('Enter');
    await see(w.input).focused();
    await see(w.messages('assistant')).count(1);
    // The panel covers the whole window, the page's links under it.
    expect(await w.panel.boundingBox()).toMatchObject({ x: 0, y: 0, width: 640, height: 360 });
    const where = async () => ((await page.evaluate(() => (globalThis as any).document.activeElement?.tagName)) === 'PARLEY-WIDGET' ? await w.focusedPart() : 'the page');
    const forward: string[] = [];
    for (let i = 0; i < 7; i++) {
      await page.keyboard.press('Tab');
      forward.push(String(await where()));
    }
    expect(forward).toEqual(['send', 'history', 'new', 'close', 'log', 'input', 'send']);
    const back: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Shift+Tab');
      back.push(String(await where()));
    }
    expect(back).toEqual(['input', 'log', 'close', 'new', 'history', 'send']);
    await page.keyboard.press('Escape');
    await see(w.launcher).focused();
  });
});
