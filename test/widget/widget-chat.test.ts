// The widget in a real browser (Chromium), embedded in a host page on another origin, talking to
// a real Parley over loopback with the fake LLM behind it: what a site owner's visitor does and
// sees — the launcher alone until they interact, a reply streaming in, the conversation kept
// across reloads and tabs, new and earlier conversations, stop, retry after a network failure.
// What goes wrong around it (storage, connections, tokens, a full server): widget-faults.test.ts.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { FakeLlm } from '../fake-llm/fake-llm.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { see } from '../helpers/see.js';
import { describeBrowser, embedPage, shadow, type HostSite, type ParleyServer, type WidgetStage } from '../helpers/browser.js';
import { GREETING, onOwnStage, openWidget, replies, replyLongTo, say } from './widget-visit.js';

let browser: Browser;
let parley: ParleyServer;
let site: HostSite;
let llm: FakeLlm;
let owner: RegisteredUser;
let bot: { id: string; slug: string };
let context: BrowserContext;

const open = (attributes: Record<string, string> = {}, page?: Page) => openWidget({ site, parley, context, bot }, attributes, page);

const useStage = (given: WidgetStage) => void ({ llm, parley, site, browser } = given);

describeBrowser('the widget on a host page', () => {
  onOwnStage(useStage);
  beforeEach(async () => {
    llm.reset();
    owner = await registerUser(parley.t);
    bot = await createChatbot(parley.t, owner, { name: 'Shop helper', greeting: GREETING, is_public: true });
    context = await browser.newContext();
  });
  afterEach(async () => {
    await context?.close();
  });

  it('costs the host page one script request and nothing else until the visitor opens the chat', async () => {
    const page = await context.newPage();
    const toParley: string[] = [];
    const everything: string[] = [];
    page.on('request', (request) => {
      everything.push(request.url());
      if (request.url().startsWith(parley.url)) toParley.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
    await page.goto(site.page('/quiet', embedPage({ parleyUrl: parley.url, attributes: { chatbot: bot.slug } })));
    await see(shadow(page).launcher).visible();
    await page.waitForLoadState('networkidle');
    expect(toParley).toEqual(['GET /widget.js']);
    expect(page.frames()).toHaveLength(1);
    // Hover fetches the panel's code, still with no call to the API.
    await shadow(page).launcher.hover();
    await expect.poll(() => toParley.some((r) => /^GET \/widget\/panel\.[0-9a-f]+\.js$/.test(r))).toBe(true);
    expect(toParley.filter((r) => r.includes('/v1/'))).toEqual([]);
    await shadow(page).launcher.click();
    await see(shadow(page).panel).visible();
    await expect.poll(() => toParley.filter((r) => r.includes('/v1/'))).toEqual([`GET /v1/public/chatbots/${bot.slug}`]);
    expect(await parley.t.count('visitors')).toBe(0);
    // Nothing went anywhere but the host site and Parley.
    const origins = new Set(everything.map((url) => new URL(url).origin));
    expect([...origins].sort()).toEqual([parley.url, site.url].sort());
  });

  it('draws nothing for a tag that names no chatbot', async () => {
    const page = await context.newPage();
    const asked: string[] = [];
    page.on('request', (request) => void asked.push(new URL(request.url()).pathname));
    await page.goto(site.page('/no-chatbot', embedPage({ parleyUrl: parley.url, attributes: { theme: 'dark' } })));
    await page.waitForLoadState('networkidle');
    expect(asked).toContain('/widget.js');
    expect(await page.locator('parley-widget').count()).toBe(0);
    expect(asked.filter((path) => path.startsWith('/v1/') || path.startsWith('/widget/'))).toEqual([]);
  });

  it('opens on load with data-open, sits where data-position says, and answers to window.Parley', async () => {
    const customer = await registerUser(parley.t);
    const page = await context.newPage();
    await page.goto(site.page('/api', embedPage({ parleyUrl: parley.url, attributes: { chatbot: bot.slug, open: 'true', position: 'bottom-left' } })));
    await see(shadow(page).panel).visible();
    await see(shadow(page).input).focused();
    const launcher = await shadow(page).launcher.boundingBox();
    expect(launcher!.x).toBeLessThan(100);
    await page.evaluate(() => (globalThis as any).Parley.close());
    await see(shadow(page).panel).hidden();
    await page.evaluate(() => (globalThis as any).Parley.open());
    await see(shadow(page).panel).visible();
    await say(page, 'Before signing in');
    await see(replies(page)).texts(['You said: Before signing in']);
    // The host's user signs in: from now on the conversations are theirs.
    await page.evaluate((token) => (globalThis as any).Parley.setUserToken(token), customer.accessToken);
    await page.evaluate(() => (globalThis as any).Parley.newConversation());
    await see(shadow(page).messages()).count(1);
    await say(page, 'After signing in');
    await see(replies(page)).texts(['You said: After signing in']);
    const listed = await parley.t.request({ method: 'GET', url: '/v1/conversations', headers: { authorization: `Bearer ${customer.accessToken}` } });
    const mine = (listed.json() as { data: Array<{ id: string; chatbot_id: string; message_count: number }> }).data;
    expect(mine.map((c) => [c.chatbot_id, c.message_count])).toEqual([[bot.id, 2]]);
  });

  it('streams the reply into the log as it is written, then announces it once', async () => {
    llm.setReply(() => 'We deliver every weekday between nine and five, and on Saturdays until noon.');
    llm.setDelays({ chunkDelayMs: 120 });
    const page = await open();
    await say(page, 'When do you deliver?');
    await see(shadow(page).messages('user')).texts(['When do you deliver?']);
    // Part of the reply is on screen while the model is still writing the rest.
    await expect.poll(() => replies(page).first().textContent(), { timeout: 10_000 }).toMatch(/We deliver/);
    expect(llm.requests[0]?.finished).toBe(false);
    await expect.poll(() => replies(page).first().getAttribute('data-status'), { timeout: 15_000 }).toBe('complete');
    await see(replies(page).first()).contains('on Saturdays until noon.');
    await expect.poll(() => page.locator('[data-parley-live]').textContent()).toBe('Shop helper: We deliver every weekday between nine and five, and on Saturdays until noon.');
    expect(await page.locator('[data-parley-live]').count()).toBe(1);
  });

  it('sends the next message when Enter is pressed the moment a reply shows complete', async () => {
    const page = await open();
    // The visitor presses Enter in the very task the reply is marked complete, before its stream has closed.
    await page.evaluate(() => {
      const root = (globalThis as any).document.querySelector('parley-widget').shadowRoot;
      const observer = new (globalThis as any).MutationObserver(() => {
        if (!root.querySelector('[data-role=assistant][data-status=complete]:not([data-greeting])')) return;
        observer.disconnect();
        const input = root.querySelector('textarea[part=input]');
        input.value = 'And on Sundays?';
        input.dispatchEvent(new (globalThis as any).KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
      });
      observer.observe(root, { subtree: true, attributes: true, attributeFilter: ['data-status'] });
    });
    await say(page, 'When do you deliver?');
    await see(replies(page)).texts(['You said: When do you deliver?', 'You said: And on Sundays?']);
    await see(shadow(page).messages('user')).texts(['When do you deliver?', 'And on Sundays?']);
    await see(shadow(page).input).value('');
  });

  it('keeps the conversation across a reload, restored with one request', async () => {
    const page = await open();
    await say(page, 'Where is my order?');
    await see(replies(page)).texts(['You said: Where is my order?']);
    const reads: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'GET' && request.url().includes('/messages')) reads.push(request.url());
    });
    await page.reload();
    await shadow(page).launcher.click();
    await see(shadow(page).messages('user')).texts(['Where is my order?']);
    await see(replies(page)).texts(['You said: Where is my order?']);
    expect(reads).toHaveLength(1);
    // The next message continues the same conversation.
    await say(page, 'And the tracking number?');
    await see(replies(page)).texts(['You said: Where is my order?', 'You said: And the tracking number?']);
    expect(await parley.t.count(`conversations WHERE chatbot_id = '${bot.id}'`)).toBe(1);
  });

  it('starts a new conversation and goes back to an earlier one', async () => {
    const page = await open();
    await say(page, 'First question');
    await see(replies(page)).texts(['You said: First question']);
    await shadow(page).part('new').click();
    await see(shadow(page).messages()).count(1); // the greeting alone
    await see(shadow(page).input).focused();
    await say(page, 'Second question');
    await see(replies(page)).texts(['You said: Second question']);
    await shadow(page).part('history').click();
    const listed = shadow(page).part('conversations').locator('button');
    await see(listed).count(2);
    await listed.filter({ hasText: 'First question' }).click();
    await see(shadow(page).messages('user')).texts(['First question']);
    await see(replies(page)).texts(['You said: First question']);
    expect(await parley.t.count(`conversations WHERE chatbot_id = '${bot.id}'`)).toBe(2);
    expect(await parley.t.count(`visitors WHERE chatbot_id = '${bot.id}'`)).toBe(1);
  });

  it('takes messages in a new conversation started while a reply is still being written, which finishes in its own', async () => {
    replyLongTo(llm, 'Tell me a long story', 'word', 150);
    llm.setDelays({ chunkDelayMs: 100 });
    const page = await open();
    await say(page, 'Tell me a long story');
    await expect.poll(() => replies(page).first().textContent(), { timeout: 10_000 }).toMatch(/word1/);
    await shadow(page).part('new').click();
    await see(shadow(page).messages()).count(1); // the greeting alone
    // Nothing of the other conversation's reply is running here: send, not stop (the story has ~14 s to go).
    expect(await shadow(page).send.isVisible()).toBe(true);
    expect(await shadow(page).stop.isVisible()).toBe(false);
    llm.setDelays({ chunkDelayMs: 0 });
    await say(page, 'Meanwhile, a quick one');
    await see(replies(page)).texts(['You said: Meanwhile, a quick one']);
    await see(shadow(page).messages('user')).texts(['Meanwhile, a quick one']);
    await see(shadow(page).input).value('');

    // The story went on being written in its own conversation, and is there complete.
    await shadow(page).part('history').click();
    await shadow(page).part('conversations').locator('button').filter({ hasText: 'Tell me a long story' }).click();
    await see(shadow(page).messages('user')).texts(['Tell me a long story']);
    expect(llm.requests[0]?.finished).toBe(false);
    await see(replies(page).first(), 30_000).contains('word149');
    await see(replies(page).first()).attribute('data-status', 'complete');
  });

  it('shows, in another tab, a reply still being written, once it is complete', async () => {
    // ~8 s of reply: a second tab opening on a slow machine still finds it being written.
    const count = replyLongTo(llm, 'Count to forty', 'n', 40);
    llm.setDelays({ chunkDelayMs: 200 });
    const first = await open();
    await say(first, 'Count to forty');
    await expect.poll(() => replies(first).first().textContent(), { timeout: 10_000 }).toMatch(/n0/);
    const second = await open({}, await context.newPage());
    await see(shadow(second).messages('user')).texts(['Count to forty']);
    await see(replies(second).first()).attribute('data-status', 'writing');
    await see(replies(second), 30_000).texts([count]);
    await see(replies(first)).texts([count]);
  });

  it('says, in another tab, that a reply is still being written when the visitor sends there meanwhile, and keeps their words', async () => {
    // ~9 s of reply, so that the second tab, slow to open on a loaded machine, still finds it being written.
    const long = replyLongTo(llm, 'Count slowly', 'n', 60);
    llm.setDelays({ chunkDelayMs: 150 });
    const first = await open();
    await say(first, 'Count slowly');
    await expect.poll(() => replies(first).first().textContent(), { timeout: 10_000 }).toMatch(/n1/);
    const second = await open({}, await context.newPage());
    await see(replies(second).first()).attribute('data-status', 'writing');
    await say(second, 'Are you done?');
    await see(shadow(second).part('error')).contains('A reply is still being written');
    await see(shadow(second).input).value('Are you done?');
    await see(shadow(second).messages('user')).texts(['Count slowly']);
    // Once the reply is there, the same words go.
    await see(replies(second), 20_000).texts([long]);
    llm.setDelays({ chunkDelayMs: 0 });
    await shadow(second).input.press('Enter');
    await see(replies(second).nth(1)).contains('You said: Are you done?');
  });

  it('after a reload mid-reply, shows what was written before the page left', async () => {
    llm.setReply(() => Array.from({ length: 60 }, (_, i) => `word${i}`).join(' '));
    llm.setDelays({ chunkDelayMs: 100 });
    const page = await open();
    await say(page, 'Tell me a long story');
    await expect.poll(() => replies(page).first().textContent(), { timeout: 10_000 }).toMatch(/word2/);
    await page.reload();
    await shadow(page).launcher.click();
    await see(shadow(page).messages('user')).texts(['Tell me a long story']);
    await see(replies(page).first(), 15_000).attribute('data-status', 'interrupted');
    await see(replies(page).first()).contains('word0 word1');
  });

  it('stops a reply with the stop button, keeping what was written', async () => {
    llm.setReply(() => Array.from({ length: 80 }, (_, i) => `w${i}`).join(' '));
    llm.setDelays({ chunkDelayMs: 100 });
    const page = await open();
    await say(page, 'Go on and on');
    await see(shadow(page).stop).visible();
    await expect.poll(() => replies(page).first().textContent(), { timeout: 10_000 }).toMatch(/w2/);
    await shadow(page).stop.click();
    await see(replies(page).first(), 10_000).attribute('data-status', 'interrupted');
    await see(shadow(page).send).visible();
    const shown = (await replies(page).first().locator('div').first().textContent()) ?? '';
    expect(shown).toMatch(/^w0 w1 w2/);
    expect(shown).not.toContain('w79');
  });

  it('after a network failure offers a retry that sends the message once', async () => {
    const page = await open();
    let failures = 0;
    await page.route('**/v1/public/conversations/*/messages', async (route) => {
      if (route.request().method() === 'POST' && failures === 0) {
        failures += 1;
        return route.abort('internetdisconnected');
      }
      return route.continue();
    });
    await say(page, 'Is this thing on?');
    await see(shadow(page).part('error')).contains('Could not reach the chat');
    await shadow(page).part('retry').click();
    await see(replies(page)).texts(['You said: Is this thing on?']);
    await see(shadow(page).part('error')).hidden();
    expect(await parley.t.count(`messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.chatbot_id = '${bot.id}' AND m.role = 'user'`)).toBe(1);
    expect(llm.requests).toHaveLength(1);
  });

  it("says when a chatbot's monthly budget is spent, sends nothing, and keeps the visitor's words", async () => {
    const thrifty = await createChatbot(parley.t, owner, { name: 'Thrifty', greeting: GREETING, is_public: true, token_budget_monthly: 1 });
    bot = thrifty;
    const page = await open();
    await say(page, 'First');
    await see(replies(page)).texts(['You said: First']);
    await say(page, 'Second');
    // In whatever unit the month's end is away: in its last hour, minutes (a run at 23:00 UTC on the
    // last day of a month was refused by a pattern of days and hours only).
    await see(shadow(page).part('error')).contains(/Come back in \d+ (second|minute|hour|day)s?\./);
    await see(shadow(page).input).value('Second');
    await see(shadow(page).messages('user')).texts(['First']);
    expect(llm.requests).toHaveLength(1);
  });

  it("shows a host site's signed-in user's conversation in that user's own conversations", async () => {
    const customer = await registerUser(parley.t);
    const page = await open({ 'user-token': customer.accessToken });
    await say(page, 'I am signed in');
    await see(replies(page)).texts(['You said: I am signed in']);
    const listed = await parley.t.request({ method: 'GET', url: '/v1/conversations', headers: { authorization: `Bearer ${customer.accessToken}` } });
    expect(listed.statusCode).toBe(200);
    const conversations = (listed.json() as { data: Array<{ id: string; chatbot_id: string }> }).data;
    expect(conversations.map((c) => c.chatbot_id)).toEqual([bot.id]);
  });
});

describeBrowser('the widget on a site the chatbot does not allow', () => {
  onOwnStage(useStage);

  it('says the site is not allowed, and sends nothing', async () => {
    owner = await registerUser(parley.t);
    bot = await createChatbot(parley.t, owner, { name: 'Picky', is_public: true, allowed_origins: ['https://shop.example.com'] });
    context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(site.page('/elsewhere', embedPage({ parleyUrl: parley.url, attributes: { chatbot: bot.slug } })));
    await shadow(page).launcher.click();
    await see(shadow(page).part('error')).contains('This site is not allowed to use this chatbot.');
    await see(shadow(page).input).disabled();
    await see(shadow(page).send).disabled();
    expect(await parley.t.count('visitors')).toBe(0);
    expect(llm.requests).toHaveLength(0);
    await context.close();
  });
});

describeBrowser('the widget under the public rate limits', () => {
  onOwnStage(useStage, { RATE_LIMIT_PUBLIC_VISITOR: '2/1m' });

  it('says when the visitor can send again', async () => {
    owner = await registerUser(parley.t);
    bot = await createChatbot(parley.t, owner, { name: 'Busy', greeting: GREETING, is_public: true });
    context = await browser.newContext();
    const page = await open();
    for (const text of ['one', 'two']) {
      await say(page, text);
      await see(shadow(page).send).visible();
    }
    await say(page, 'three');
    await see(shadow(page).part('error')).contains(/You can send again in \d+ seconds/);
    await see(shadow(page).input).value('three');
    await context.close();
  });
});
