// The widget behind what sits between a visitor and Parley: a slow network that holds the first
// request, a proxy that ends a streamed answer cleanly before its end (a buffering proxy's read
// timeout), and a gateway that answers with its own error page. The browser's request routing
// plays the network (page.route); Parley and the fake model behind it are real.
import type { Page, Route } from 'playwright-core';
import { expect, it } from 'vitest';
import { describeBrowser, shadow } from '../helpers/browser.js';
import { see } from '../helpers/see.js';
import { eachWithPublicBot, openWidget, replies, replyLongTo, say, type PublicBotVisit } from './widget-visit.js';

let visit: PublicBotVisit;

const MESSAGES = /\/v1\/public\/conversations\/[^/]+\/messages$/;
const MESSAGES_QUERY = /\/v1\/public\/conversations\/[^/]+\/messages\?/;

/** Routes the next POST of a visitor's message through `handle`; later ones go straight through. */
async function onFirstSend(page: Page, handle: (route: Route) => Promise<void>): Promise<void> {
  let first = true;
  await page.route(MESSAGES, async (route) => {
    if (route.request().method() !== 'POST' || !first) return route.continue();
    first = false;
    await handle(route);
  });
}

describeBrowser('the widget behind slow networks, proxies and gateways', () => {
  eachWithPublicBot((given) => (visit = given));

  it('stops the reply when stop is pressed while the first message is still on its way', async () => {
    const { llm, parley, bot } = visit;
    replyLongTo(llm, 'Tell me everything', 'word', 60);
    llm.setDelays({ chunkDelayMs: 50 });
    const page = await openWidget(visit);
    const w = shadow(page);
    // A slow network: the visit's start (the first message's first request) takes its time.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route(/\/v1\/public\/chatbots\/[^/]+\/conversations$/, async (route) => {
      await held;
      await route.continue();
    });
    await say(page, 'Tell me everything');
    await see(w.stop).visible();
    await w.stop.click();
    release();
    await see(replies(page).first(), 15_000).attribute('data-status', 'interrupted');
    await see(w.send).visible();
    // Stopped near its start, not written to its end (60 words, one every 50 ms).
    const stored = await parley.t.database.sql.query<{ status: string; content: string }>(
      `SELECT m.status, m.content FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.chatbot_id = '${bot.id}' AND m.role = 'assistant'`,
    );
    expect(stored.map((row) => row.status)).toEqual(['interrupted']);
    expect(stored[0]!.content).not.toContain('word59');
  });

  it('offers a retry, not a reply "writing" for ever, when a proxy ends the stream before the reply ends', async () => {
    const { llm } = visit;
    const long = replyLongTo(llm, 'Tell me in parts', 'part', 20);
    const page = await openWidget(visit);
    const w = shadow(page);
    await onFirstSend(page, async (route) => {
      const answer = await route.fetch();
      const events = (await answer.text()).split('\n\n');
      // The head and a few words arrive; then the proxy closes the response as if it were whole.
      const kept = events.filter((event) => !event.startsWith('event: message.end')).slice(0, 4).join('\n\n') + '\n\n';
      await route.fulfill({ status: 200, headers: answer.headers(), body: kept });
    });
    await say(page, 'Tell me in parts');
    await see(w.part('error')).contains('Could not reach the chat');
    await see(w.stop).hidden();
    await w.part('retry').click();
    // The retry carries the same Idempotency-Key: the reply the server stored is shown, once.
    await see(replies(page)).count(1);
    await see(replies(page).first()).attribute('data-status', 'complete');
    await see(replies(page).first()).contains(long);
    expect(llm.requests).toHaveLength(1);
    await see(replies(page).first().locator('.note')).hidden();
  });

  it("keeps the visitor's message and offers a retry when a gateway answers with its own 502 page", async () => {
    const { llm, parley, bot } = visit;
    const page = await openWidget(visit);
    const w = shadow(page);
    // The gateway could not reach Parley: nothing was stored, it answers with an HTML page.
    await onFirstSend(page, (route) => route.fulfill({ status: 502, contentType: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>' }));
    await say(page, 'Is my order on its way?');
    await see(w.part('error')).contains('Could not reach the chat');
    // No reply bubble claims a reply failed to be written: no reply was ever asked for.
    await see(replies(page)).count(0);
    await w.part('retry').click();
    await see(replies(page).first()).contains('You said: Is my order on its way?');
    await see(w.messages('user')).texts(['Is my order on its way?']);
    expect(llm.requests).toHaveLength(1);
    expect(await parley.t.count(`messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.chatbot_id = '${bot.id}'`)).toBe(2);
  });
});

describeBrowser('a returning visitor on a slow network', () => {
  eachWithPublicBot((given) => (visit = given));

  it('shows the earlier messages above one written before they arrived, each once, in the order sent', async () => {
    const { context } = visit;
    const page = await openWidget(visit);
    await say(page, 'Where is my order?');
    await see(replies(page)).texts(['You said: Where is my order?']);
    // The next page view: the widget's request for the conversation's messages is slow, and the
    // visitor writes before it is answered.
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    let held = false;
    await context.route(MESSAGES_QUERY, async (route) => {
      if (route.request().method() === 'GET' && !held) {
        held = true;
        await answered;
      }
      await route.continue();
    });
    const again = await context.newPage();
    await again.goto(page.url());
    await shadow(again).launcher.click();
    await expect.poll(() => held).toBe(true);
    await say(again, 'And when will it come?');
    await see(replies(again)).texts(['You said: And when will it come?']);
    answer();
    await again.waitForTimeout(500); // what the late answer would add
    await see(shadow(again).messages('user')).texts(['Where is my order?', 'And when will it come?']);
    await see(replies(again)).texts(['You said: Where is my order?', 'You said: And when will it come?']);
  });
});
