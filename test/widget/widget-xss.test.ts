// Model and visitor text never become markup (§7, safe rendering by construction): every payload
// of the XSS corpus, sent as a visitor's message and returned by the model, rendered by the
// widget on a host page (live, as it streams, and restored from history) and by the hosted chat
// page, executes nothing — no `__pwned` call, no dialog — and leaves only the Markdown subset's
// elements and safe links behind.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FakeLlm } from '../fake-llm/fake-llm.js';
import { describeBrowser, embedPage, shadow, type HostSite, type ParleyServer, startWidgetStage, type WidgetStage } from '../helpers/browser.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { startVisit, visitorSend } from '../helpers/public.js';
import { see } from '../helpers/see.js';
import { XSS_CORPUS } from './xss-corpus.js';

let stage: WidgetStage;
let browser: Browser;
let parley: ParleyServer;
let site: HostSite;
let llm: FakeLlm;
let bot: { id: string; slug: string };
/** The stored conversation holding every payload, as visitor text (where the API accepts it) and as replies. */
let seeded: { token: string; conversation: string; expires: number };

const HOSTILE_NAME = `<svg onload=__pwned('chatbot-name')>Shop`;
const HOSTILE_GREETING = `<img src=x onerror="__pwned('greeting')"> [hi](javascript:__pwned('greeting-link'))`;
const byCase = new Map(XSS_CORPUS.map((p) => [`case ${p.name}`, p.text]));

/** The model answers with the payload: the visitor's text itself, or the payload a `case <name>` message names. */
function replyWithPayload(request: { messages: Array<{ role: string; content: string }> }): string {
  const last = [...request.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  return byCase.get(last) ?? last;
}

/** Everything executed code could do here reports: a call of __pwned in any page or popup, or a dialog. */
async function watch(context: BrowserContext): Promise<string[]> {
  const hits: string[] = [];
  await context.exposeFunction('__pwned', (name: unknown) => void hits.push(String(name)));
  const onPage = (page: Page) =>
    page.on('dialog', (dialog) => {
      hits.push(`dialog:${dialog.message()}`);
      dialog.dismiss().catch(() => {});
    });
  context.on('page', onPage);
  return hits;
}

/** What the rendered conversation is made of: element names, attribute names, link protocols, and the live region's children. */
async function inventory(page: Page, logSelector: string) {
  return page.evaluate((selector) => {
    // Runs in the page (the test's TypeScript has no DOM types).
    const document = (globalThis as any).document;
    const log = document.querySelector('parley-widget').shadowRoot.querySelector(selector);
    const tags = new Set<string>();
    const attributes = new Set<string>();
    for (const element of Array.from(log.querySelectorAll('*')) as any[]) {
      tags.add(element.localName);
      for (const attribute of Array.from(element.attributes) as any[]) attributes.add(attribute.name);
    }
    const protocols = new Set((Array.from(log.querySelectorAll('a')) as any[]).map((a) => new URL(a.href).protocol));
    const live = document.querySelector('[data-parley-live]');
    return { tags: [...tags].sort(), attributes: [...attributes].sort(), protocols: [...protocols].sort(), liveChildren: (live?.children.length ?? 0) as number, text: (log.textContent ?? '') as string };
  }, logSelector);
}

const ALLOWED_TAGS = ['a', 'br', 'code', 'div', 'em', 'li', 'ol', 'p', 'pre', 'strong', 'ul'];
const ALLOWED_ATTRIBUTES = ['aria-busy', 'class', 'data-greeting', 'data-role', 'data-status', 'dir', 'hidden', 'href', 'part', 'rel', 'start', 'target'];

function expectInert(found: Awaited<ReturnType<typeof inventory>>) {
  expect(found.tags.filter((tag) => !ALLOWED_TAGS.includes(tag))).toEqual([]);
  expect(found.attributes.filter((name) => !ALLOWED_ATTRIBUTES.includes(name))).toEqual([]);
  expect(found.protocols.filter((protocol) => !['http:', 'https:', 'mailto:'].includes(protocol))).toEqual([]);
  expect(found.liveChildren).toBe(0);
}

/** The seeded conversation, as the widget would have kept it in this origin's localStorage. */
function rememberSeeded(context: BrowserContext, api: string, origin: string) {
  const key = `parley:${api}:${bot.slug}:visitor`;
  const saved = { label: 'xss', token: seeded.token, expires: seeded.expires, current: seeded.conversation, conversations: [{ id: seeded.conversation, title: 'corpus', at: Date.now() }] };
  return context.addInitScript(
    ({ key, value, origin }) => {
      const page = globalThis as any;
      if (page.location.origin === origin) page.localStorage.setItem(key, value);
    },
    { key, value: JSON.stringify(saved), origin },
  );
}

/** Scripts, image errors, toggles and focus handlers fire within a few frames; give them a moment. */
const settle = (page: Page) => page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 300)));

describeBrowser('hostile text in the widget and the hosted page', () => {
  beforeAll(async () => {
    stage = await startWidgetStage({ llm: { reply: replyWithPayload, record: false } });
    ({ llm, parley, site, browser } = stage);
    const owner = await registerUser(parley.t);
    bot = await createChatbot(parley.t, owner, { name: HOSTILE_NAME, greeting: HOSTILE_GREETING, is_public: true });
    const visit = await startVisit(parley.t, bot.slug, { visitorId: 'corpus' });
    for (const payload of XSS_CORPUS) {
      const sent = await visitorSend(parley.t, visit.visitor_token, visit.conversation_id, { content: payload.text });
      // Text the API refuses as a message (a NUL, say) still reaches the page as the model's reply.
      if (sent.statusCode !== 201) {
        expect(sent.statusCode, `${payload.name}: ${sent.body}`).toBe(422);
        expect((await visitorSend(parley.t, visit.visitor_token, visit.conversation_id, { content: `case ${payload.name}` })).statusCode).toBe(201);
      }
    }
    seeded = { token: visit.visitor_token, conversation: visit.conversation_id, expires: Date.parse(visit.expires_at) };
  }, 120_000);
  afterAll(() => stage?.close());

  it(`has a corpus of ${XSS_CORPUS.length} payloads`, () => {
    expect(XSS_CORPUS.length).toBeGreaterThanOrEqual(60);
  });

  it('runs none of them in the widget, restored from history on a host page', async () => {
    const context = await browser.newContext();
    const hits = await watch(context);
    await rememberSeeded(context, parley.url, site.url);
    const page = await context.newPage();
    const bodyBefore = ['main'];
    await page.goto(site.page('/xss-history', embedPage({ parleyUrl: parley.url, attributes: { chatbot: bot.slug } })));
    await shadow(page).launcher.click();
    await see(shadow(page).messages(), 20_000).count(1 + 2 * XSS_CORPUS.length);
    await settle(page);
    expect(hits).toEqual([]);
    const found = await inventory(page, '[part~=log]');
    expectInert(found);
    // The payloads are there as text a reader sees, not swallowed.
    expect(found.text).toContain("<script>__pwned('script-tag')</script>");
    expect(found.text).toContain("<img src=x onerror=\"__pwned('greeting')\">");
    await expect.poll(() => shadow(page).part('panel').locator('h2').textContent()).toBe(HOSTILE_NAME);
    // The host page gained the widget's element and one live region, nothing else.
    const body = await page.evaluate(() => (Array.from((globalThis as any).document.body.children) as any[]).map((e) => e.localName + (e.hasAttribute('data-parley-live') ? '[live]' : '')));
    expect(body).toEqual([...bodyBefore, 'script', 'parley-widget', 'div[live]']);
    await context.close();
  });

  it('runs none of them as they stream in, sent from the widget', async () => {
    const context = await browser.newContext();
    const hits = await watch(context);
    const page = await context.newPage();
    await page.goto(site.page('/xss-live', embedPage({ parleyUrl: parley.url, attributes: { chatbot: bot.slug } })));
    await shadow(page).launcher.click();
    const live = XSS_CORPUS.filter((_, i) => i % 6 === 0);
    llm.setDelays({ chunkDelayMs: 5 });
    for (const [i, payload] of live.entries()) {
      await shadow(page).input.fill(payload.text.includes('\u0000') ? `case ${payload.name}` : payload.text);
      await shadow(page).input.press('Enter');
      await see(shadow(page).log.locator('[data-role=assistant][data-status=complete]:not([data-greeting])')).count(i + 1);
    }
    await settle(page);
    expect(hits).toEqual([]);
    expectInert(await inventory(page, '[part~=log]'));
    llm.setDelays({ chunkDelayMs: 0 });
    await context.close();
  });

  it('runs none of them on the hosted chat page', async () => {
    const context = await browser.newContext();
    const hits = await watch(context);
    await rememberSeeded(context, parley.url, parley.url);
    const page = await context.newPage();
    await page.goto(`${parley.url}/c/${bot.slug}`);
    await see(shadow(page).messages(), 20_000).count(1 + 2 * XSS_CORPUS.length);
    await settle(page);
    expect(hits).toEqual([]);
    expectInert(await inventory(page, '[part~=log]'));
    expect(await page.title()).toBe(HOSTILE_NAME);
    await context.close();
  });
});
