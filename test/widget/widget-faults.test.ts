// The widget in a real browser when what is around it goes wrong: the host page's storage fills
// up, the connection is cut mid-reply, the saved visitor token is refused, the conversation it
// shows is gone, the server runs as many replies as it takes. Each was found by doing it to the
// widget; each leaves the visitor a way on, never "Could not reach the chat" for ever.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import type { FakeLlm } from '../fake-llm/fake-llm.js';
import { describeBrowser, embedPage, shadow, type HostSite, type ParleyServer, type WidgetStage } from '../helpers/browser.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { see } from '../helpers/see.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { GREETING, onOwnStage, openWidget, replies, replyLongTo, say, spoilSavedToken } from './widget-visit.js';

let browser: Browser;
let parley: ParleyServer;
let site: HostSite;
let llm: FakeLlm;
let owner: RegisteredUser;
let bot: { id: string; slug: string };
let context: BrowserContext;

const open = (attributes: Record<string, string> = {}, page?: Page) => openWidget({ site, parley, context, bot }, attributes, page);

const useStage = (given: WidgetStage) => void ({ llm, parley, site, browser } = given);

/** Each test: a public chatbot of a new owner, and a browser context of its own. */
function freshChatbotEach(name: string) {
  beforeEach(async () => {
    llm.reset();
    owner = await registerUser(parley.t);
    bot = await createChatbot(parley.t, owner, { name, greeting: GREETING, is_public: true });
    context = await browser.newContext();
  });
  afterEach(async () => {
    await context?.close();
  });
}

describeBrowser('the widget when what is around it goes wrong', () => {
  onOwnStage(useStage);
  freshChatbotEach('Shop helper');

  it("chats on when the host site's localStorage fills up: what cannot be kept lasts as long as the page", async () => {
    const page = await open();
    await say(page, 'Is there room?');
    await see(replies(page)).texts(['You said: Is there room?']);
    // The host's own scripts use up the origin's quota: every further write throws QuotaExceededError.
    const refused = await page.evaluate(() => {
      const storage = (globalThis as any).localStorage;
      let chunk = 'x'.repeat(1 << 20);
      for (let i = 0; chunk.length > 0; i++) {
        try {
          storage.setItem(`host-${i}`, chunk);
        } catch {
          chunk = chunk.slice(0, chunk.length >> 1);
        }
      }
      try {
        storage.setItem('one-more', 'x');
        return false;
      } catch {
        return true;
      }
    });
    expect(refused).toBe(true);
    await shadow(page).part('new').click();
    await see(shadow(page).messages()).count(1);
    await say(page, 'And in a new conversation?');
    await see(replies(page)).texts(['You said: And in a new conversation?']);
    await say(page, 'Still here?');
    await see(replies(page)).texts(['You said: And in a new conversation?', 'You said: Still here?']);
    await shadow(page).part('history').click();
    await see(shadow(page).part('conversations').locator('button')).count(2);
    expect(await parley.t.count(`conversations WHERE chatbot_id = '${bot.id}'`)).toBe(2);
  });

  it('after its connection is cut mid-reply (a phone changing networks), offers a retry that shows what was stored, once', { timeout: 60_000 }, async () => {
    const target = new URL(parley.url);
    const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port) });
    try {
      replyLongTo(llm, 'Tell me in parts', 'part', 30);
      llm.setDelays({ chunkDelayMs: 100 });
      const page = await context.newPage();
      await page.goto(site.page(`/cut-${bot.slug}`, embedPage({ parleyUrl: proxy.url(parley.url).replace(/\/$/, ''), attributes: { chatbot: bot.slug } })));
      await shadow(page).launcher.click();
      await say(page, 'Tell me in parts');
      await expect.poll(() => replies(page).first().textContent(), { timeout: 10_000 }).toMatch(/part2/);
      proxy.resetAll();
      await see(shadow(page).part('error')).contains('Could not reach the chat');
      // The server took the cut as the visitor leaving (§6.1): the model call stopped, the text so far stored.
      await expect.poll(() => parley.t.count(`messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.chatbot_id = '${bot.id}' AND m.status = 'interrupted'`)).toBe(1);
      await shadow(page).part('retry').click();
      await see(replies(page).first()).attribute('data-status', 'interrupted');
      await see(replies(page).first()).contains(/^part0 part1 part2/);
      await see(shadow(page).part('error')).hidden();
      // Sent once, answered once, and the conversation takes the next message.
      llm.setDelays({ chunkDelayMs: 0 });
      await say(page, 'Go on');
      await see(replies(page).nth(1)).contains('You said: Go on');
      await see(shadow(page).messages('user')).texts(['Tell me in parts', 'Go on']);
      expect(llm.requests).toHaveLength(2);
    } finally {
      await proxy.close();
    }
  });

  it('carries the message in a new visit when the saved visitor token is refused (revoked, or from another server)', async () => {
    const page = await open();
    await say(page, 'First visit');
    await see(replies(page)).texts(['You said: First visit']);
    await spoilSavedToken(page);
    await say(page, 'Still there?');
    await see(replies(page).last()).contains('You said: Still there?');
    await see(shadow(page).part('error')).hidden();
    // A refused token proves nobody: the message went in a new visit's own conversation.
    expect(await parley.t.count(`visitors WHERE chatbot_id = '${bot.id}'`)).toBe(2);
    expect(await parley.t.count(`conversations WHERE chatbot_id = '${bot.id}'`)).toBe(2);
    // After a reload the new visit's conversation is the one shown.
    await page.reload();
    await shadow(page).launcher.click();
    await see(shadow(page).messages('user')).texts(['Still there?']);
  });

  it('after a reload with a saved visitor token the server refuses, starts afresh and chats in a new visit', async () => {
    const page = await open();
    await say(page, 'First visit');
    await see(replies(page)).texts(['You said: First visit']);
    await spoilSavedToken(page);
    await page.reload();
    await shadow(page).launcher.click();
    await see(shadow(page).messages()).count(1); // the greeting alone
    await see(shadow(page).part('error')).hidden();
    await say(page, 'Hello again');
    await see(replies(page)).texts(['You said: Hello again']);
  });

  it('starts afresh when the conversation it shows is gone from the server (erased, the server restarted since)', async () => {
    const page = await open();
    await say(page, 'Forget me');
    await see(replies(page)).texts(['You said: Forget me']);
    await parley.t.database.sql.query(`DELETE FROM conversations WHERE chatbot_id = $1`, [bot.id]);
    // Another day, on a server that never heard of the conversation: what the page kept names one
    // it does not know, and the browser has none of its preflights cached.
    const kept = await context.storageState();
    for (const item of kept.origins.flatMap((o) => o.localStorage)) {
      if (!item.name.startsWith('parley:')) continue;
      const saved = JSON.parse(item.value) as { current: string; conversations: Array<{ id: string }> };
      saved.current = saved.conversations[0]!.id = newId();
      item.value = JSON.stringify(saved);
    }
    const later = await browser.newContext({ storageState: kept });
    try {
      const again = await later.newPage();
      await again.goto(page.url());
      await shadow(again).launcher.click();
      await see(shadow(again).messages()).count(1); // the greeting alone
      // The widget has asked for the saved conversation and let it go (the greeting shows before it asks).
      const current = () => again.evaluate(() => {
        const storage = (globalThis as any).localStorage;
        for (let i = 0; i < storage.length; i++) if (storage.key(i)?.startsWith('parley:')) return JSON.parse(storage.getItem(storage.key(i))).current as string | null;
        return 'none';
      });
      await expect.poll(current).toBeNull();
      await see(shadow(again).part('error')).hidden();
      await say(again, 'Hello again');
      await see(replies(again)).texts(['You said: Hello again']);
    } finally {
      await later.close();
    }
  });

  it('carries a message sent while it still asks for a gone conversation into a new one', async () => {
    const page = await open();
    await say(page, 'Forget me');
    await see(replies(page)).texts(['You said: Forget me']);
    const gone = (await parley.t.database.sql.query<{ id: string }>(`SELECT id FROM conversations WHERE chatbot_id = $1`, [bot.id]))[0]!.id;
    await parley.t.database.sql.query(`DELETE FROM conversations WHERE chatbot_id = $1`, [bot.id]);
    // A slow network: the widget's request for the saved conversation is still on its way when the visitor writes.
    let answer: () => void = () => {};
    const answered = new Promise<void>((resolve) => (answer = resolve));
    await context.route(`**/v1/public/conversations/${gone}/messages*`, async (route) => {
      if (route.request().method() === 'GET') await answered;
      await route.continue();
    });
    const again = await context.newPage();
    await again.goto(page.url());
    await shadow(again).launcher.click();
    await see(shadow(again).messages()).count(1); // the greeting alone
    await say(again, 'Hello again');
    await see(replies(again)).texts(['You said: Hello again']);
    await see(shadow(again).part('error')).hidden();
    answer();
    // The late answer about the gone conversation changes nothing on screen: the chat goes on in the new one.
    await say(again, 'Still here?');
    await see(replies(again)).texts(['You said: Hello again', 'You said: Still here?']);
    await see(shadow(again).part('error')).hidden();
    const kept = await again.evaluate(() => {
      const storage = (globalThis as any).localStorage;
      for (let i = 0; i < storage.length; i++) if (storage.key(i)?.startsWith('parley:')) return JSON.parse(storage.getItem(storage.key(i))).conversations.map((c: { id: string }) => c.id) as string[];
      return [];
    });
    expect(kept).not.toContain(gone);
    expect(kept).toHaveLength(1);
  });
});

describeBrowser('the widget on a server running as many replies as it takes', () => {
  onOwnStage(useStage, { MAX_CONCURRENT_TURNS: '1' });
  freshChatbotEach('Popular');

  it('says the chat is busy, keeps the words, and sends them once there is room', async () => {
    // A minute long: the place stays taken while the second page loads, however slow the machine.
    // (A reply of 3 s once ended before a loaded CI machine had the second page open.)
    replyLongTo(llm, 'Take your time', 't', 400);
    llm.setDelays({ chunkDelayMs: 150 });
    // Another visitor's reply takes the one place.
    const elsewhere = await browser.newContext();
    try {
      const other = await open({}, await elsewhere.newPage());
      await say(other, 'Take your time');
      await expect.poll(() => replies(other).first().textContent(), { timeout: 10_000 }).toMatch(/t1/);

      const page = await open();
      await say(page, 'Hello?');
      await see(shadow(page).part('error')).contains('busy');
      await see(shadow(page).input).value('Hello?');
      await see(shadow(page).messages('user')).count(0);

      // The other visitor stops theirs: the place is free once it is stored.
      llm.setDelays({ chunkDelayMs: 0 });
      await shadow(other).stop.click();
      await see(replies(other).first(), 10_000).attribute('data-status', 'interrupted');
      await shadow(page).input.press('Enter');
      await see(replies(page)).texts(['You said: Hello?']);
    } finally {
      await elsewhere.close();
    }
  });
});

describeBrowser('the widget on a server that takes short messages (MAX_MESSAGE_CHARS=40)', () => {
  onOwnStage(useStage, { MAX_MESSAGE_CHARS: '40' });
  freshChatbotEach('Terse');

  it('stops the visitor at what the server takes, so the message is sent rather than refused', async () => {
    const page = await open();
    const long = 'All of this is more than the server takes in one message.';
    await shadow(page).input.pressSequentially(long);
    await see(shadow(page).input).value(long.slice(0, 40));
    await shadow(page).input.press('Enter');
    await see(replies(page)).texts([`You said: ${long.slice(0, 40)}`]);
    await see(shadow(page).part('error')).hidden();
  });
});
