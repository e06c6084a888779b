// The model (or its provider) fails after part of the reply was written: a stream error,
// a dropped connection upstream, or an answer that never ends (cut by the server at its bound).
// The server stores the text written so far as the `failed` reply and sends it as deltas (§6.1);
// the widget showed it as it came. What the visitor then sees must not contradict what the server
// keeps: the words they were reading vanish, an empty "could not be written" bubble takes their
// place, and a reload brings the words back.
import type { BrowserContext } from 'playwright-core';
import { expect, it } from 'vitest';
import type { FakeLlm } from '../fake-llm/fake-llm.js';
import { describeBrowser, shadow, type HostSite, type ParleyServer } from '../helpers/browser.js';
import { openWidget, replies, say, eachWithPublicBot, type PublicBotVisit } from './widget-visit.js';

let parley: ParleyServer;
let site: HostSite;
let llm: FakeLlm;
let bot: { id: string; slug: string };
let context: BrowserContext;
const useVisit = (given: PublicBotVisit) => void ({ llm, parley, site, bot, context } = given);

const shown = (page: Parameters<typeof replies>[0]) =>
  replies(page).evaluateAll((els) => els.map((e: any) => ({ status: e.dataset.status as string, text: (e.firstElementChild?.textContent ?? '') as string })));

describeBrowser('a reply that fails after text was written', () => {
  eachWithPublicBot(useVisit);

  it('keeps the text the visitor was reading, as the server stored it, instead of an empty failed bubble', { timeout: 60_000 }, async () => {
    llm.setReply(() => 'Your order 5512 left the warehouse on Monday and should arrive');
    llm.setDelays({ chunkDelayMs: 150 });
    llm.fail({ kind: 'stream-error', afterChunks: 8 });
    const page = await openWidget({ site, parley, context, bot });
    await say(page, 'Where is my order?');
    // The visitor reads the reply as it is written...
    await expect.poll(() => replies(page).first().textContent(), { timeout: 10_000 }).toContain('Your order 5512');
    // ...then the model fails.
    await expect.poll(async () => (await shown(page)).at(-1)?.status, { timeout: 10_000 }).toBe('failed');
    const live = await shown(page);

    await page.reload();
    await shadow(page).launcher.click();
    await expect.poll(async () => (await shown(page)).at(-1)?.status, { timeout: 10_000 }).toBe('failed');
    const stored = await shown(page);
    expect(stored.at(-1)!.text).toContain('Your order 5512'); // what the server kept

    // The same conversation, before and after a reload, shows the same failed reply.
    expect(live).toEqual(stored);
  });
});
