// The hosted chat page, GET /c/{slug}: a chatbot as a whole page of its own, on Parley's origin,
// for owners without a site. In real Chromium: the chat fills the window, streams, survives a
// reload, stays inside its own strict Content-Security-Policy, is accessible, and may be framed
// only by the sites the chatbot's allowed_origins name.
import type { Browser, BrowserContext, Locator } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { FakeLlm } from '../fake-llm/fake-llm.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { see } from '../helpers/see.js';
import { cspWatch, describeBrowser, runAxe, type HostSite, type ParleyServer, startWidgetStage, type WidgetStage } from '../helpers/browser.js';

let stage: WidgetStage;
let browser: Browser;
let parley: ParleyServer;
let site: HostSite;
let llm: FakeLlm;
let owner: RegisteredUser;
let context: BrowserContext;

const NAME = 'Bakery helper';
const GREETING = 'Hi! Ask me about our bread and opening hours.';

/** A page, or a frame of one. */
type Surface = { locator(selector: string): Locator };

/** The hosted page's parts, inside the widget's open shadow root. */
function chat(page: Surface) {
  const inside = (selector: string) => page.locator(`parley-widget ${selector}`);
  return {
    panel: inside('main[part=panel]'),
    launcher: inside('button[part=launcher]'),
    input: inside('textarea[part=input]'),
    log: inside('[role=log][part=log]'),
    user: inside('[part~=message][data-role=user]'),
    greeting: inside('[part~=message][data-greeting]'),
    replies: inside('[part~=message][data-role=assistant]:not([data-greeting])'),
  };
}

async function say(page: Surface, text: string): Promise<void> {
  await chat(page).input.fill(text);
  await chat(page).input.press('Enter');
}

async function bot(extra: Record<string, unknown> = {}): Promise<{ id: string; slug: string }> {
  return createChatbot(parley.t, owner, { name: NAME, greeting: GREETING, is_public: true, ...extra });
}

/** A page of the host site that frames the chatbot's hosted page. */
function framingPage(path: string, slug: string): string {
  return site.page(path, {
    html: [
      '<!doctype html>',
      '<html lang="en">',
      '<head><meta charset="utf-8"><title>Framing page</title></head>',
      '<body><main><h1>Talk to our bakery</h1>',
      `<iframe src="${parley.url}/c/${slug}" title="Chat" width="400" height="600"></iframe>`,
      '</main></body>',
      '</html>',
    ].join('\n'),
  });
}

describeBrowser('the hosted chat page', () => {
  beforeAll(async () => {
    stage = await startWidgetStage();
    ({ llm, parley, site, browser } = stage);
  });
  afterAll(() => stage?.close());
  beforeEach(async () => {
    llm.reset();
    owner = await registerUser(parley.t);
    context = await browser.newContext({ viewport: { width: 1024, height: 700 } });
  });
  afterEach(async () => {
    await context?.close();
  });

  it('shows the chat as the whole page, titled with the chatbot, streaming replies and kept across a reload', async () => {
    const { slug, id } = await bot();
    llm.setReply(() => 'We bake sourdough every morning at six, and rye on Tuesdays and Fridays.');
    llm.setDelays({ chunkDelayMs: 120 });
    const page = await context.newPage();
    const csp = cspWatch(page);
    const response = await page.goto(`${parley.url}/c/${slug}`);
    expect(response?.status()).toBe(200);
    const c = chat(page);
    await see(c.greeting).contains(GREETING);
    expect(await page.title()).toBe(NAME);

    // The whole window, a page's main content rather than a dialog over something else.
    await see(c.panel).visible();
    expect(await c.launcher.count()).toBe(0);
    expect(await page.getByRole('dialog').count()).toBe(0);
    await see(page.getByRole('main', { name: NAME })).count(1);
    await see(page.getByRole('heading', { level: 1, name: NAME })).count(1);
    const box = await c.panel.boundingBox();
    expect(box).toEqual({ x: 0, y: 0, width: 1024, height: 700 });

    // A reply shows as it is written, then complete.
    await say(page, 'When do you bake?');
    await see(c.user).texts(['When do you bake?']);
    await expect.poll(() => c.replies.first().textContent(), { timeout: 10_000 }).toMatch(/We bake/);
    expect(llm.requests[0]?.finished).toBe(false);
    await see(c.replies.first(), 15_000).attribute('data-status', 'complete');
    await see(c.replies).texts(['We bake sourdough every morning at six, and rye on Tuesdays and Fridays.']);
    await expect.poll(() => page.locator('[data-parley-live]').textContent()).toBe(`${NAME}: We bake sourdough every morning at six, and rye on Tuesdays and Fridays.`);

    // A reload shows the same conversation, and the next message continues it.
    await page.reload();
    await see(c.user).texts(['When do you bake?']);
    await see(c.replies).texts(['We bake sourdough every morning at six, and rye on Tuesdays and Fridays.']);
    llm.setDelays({ chunkDelayMs: 0 });
    llm.setReply((request) => `You said: ${request.messages.at(-1)?.content ?? ''}`);
    await say(page, 'And on Sundays?');
    await see(c.replies).texts(['We bake sourdough every morning at six, and rye on Tuesdays and Fridays.', 'You said: And on Sundays?']);
    expect(await parley.t.count(`conversations WHERE chatbot_id = '${id}'`)).toBe(1);

    await page.waitForTimeout(200); // reports arrive a moment after what caused them
    expect(csp.violations).toEqual([]);
  });

  it('is served with a strict Content-Security-Policy that Chromium enforces, and the chat breaks none of it', async () => {
    const { slug } = await bot();
    const page = await context.newPage();
    const csp = cspWatch(page);
    const response = await page.goto(`${parley.url}/c/${slug}`);
    const policy = response?.headers()['content-security-policy'] ?? '';
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).not.toMatch(/unsafe-inline|unsafe-eval/);
    await see(chat(page).greeting).contains(GREETING);
    await say(page, 'Hello');
    await see(chat(page).replies).texts(['You said: Hello']);
    await page.waitForTimeout(200);
    expect(csp.violations).toEqual([]);
    // Enforced: a script written into the page does not run, and is reported (the watch is not blind).
    await page.evaluate(() => {
      const doc = (globalThis as any).document;
      const script = doc.createElement('script');
      script.textContent = 'window.injected = true';
      doc.body.append(script);
    });
    expect(await page.evaluate(() => (globalThis as any).injected)).toBeUndefined();
    await expect.poll(() => csp.violations.length).toBeGreaterThan(0);
  });

  it('leaves nothing serious for axe, with a conversation on it', async () => {
    const { slug } = await bot();
    const page = await context.newPage();
    await page.goto(`${parley.url}/c/${slug}`);
    await see(chat(page).greeting).contains(GREETING);
    await say(page, 'Do you have rye bread?');
    await see(chat(page).replies).texts(['You said: Do you have rye bread?']);
    expect(await runAxe(page)).toEqual([]);
  });

  it('answers an unknown chatbot with a 404 page', async () => {
    const page = await context.newPage();
    const response = await page.goto(`${parley.url}/c/unknown`);
    expect(response?.status()).toBe(404);
    await see(page.getByRole('heading', { level: 1 })).texts(['Not found']);
    expect(await page.locator('parley-widget').count()).toBe(0);
  });

  it('works on its own page for a chatbot that allows only other origins', async () => {
    const { slug } = await bot({ allowed_origins: ['https://shop.example.com'] });
    const page = await context.newPage();
    await page.goto(`${parley.url}/c/${slug}`);
    await see(chat(page).greeting).contains(GREETING);
    await say(page, 'Is the shop open today?');
    await see(chat(page).replies).texts(['You said: Is the shop open today?']);
    await see(chat(page).input).value('');
    expect(await page.locator('parley-widget [part=error]').isHidden()).toBe(true);
  });

  it('can be framed by a site the chatbot allows', async () => {
    const { slug } = await bot({ allowed_origins: [site.url] });
    const page = await context.newPage();
    await page.goto(framingPage(`/framed-${slug}`, slug));
    const frame = page.frameLocator('iframe');
    await see(chat(frame).greeting).contains(GREETING);
    await say(frame, 'Hello from the frame');
    await see(chat(frame).replies).texts(['You said: Hello from the frame']);
  });

  it('cannot be framed by a site the chatbot does not list', async () => {
    const { slug } = await bot({ allowed_origins: ['https://shop.example.com'] });
    const page = await context.newPage();
    const toParley: string[] = [];
    page.on('request', (request) => {
      if (request.url().startsWith(parley.url)) toParley.push(new URL(request.url()).pathname);
    });
    await page.goto(framingPage(`/framing-${slug}`, slug), { waitUntil: 'load' });
    // The page was asked for, and refused by its frame-ancestors: nothing of the chat ran.
    await expect.poll(() => toParley).toContain(`/c/${slug}`);
    await page.waitForLoadState('networkidle');
    const child = page.frames().find((frame) => frame !== page.mainFrame());
    expect(child).toBeDefined();
    expect(child?.url()).not.toBe(`${parley.url}/c/${slug}`);
    expect(await child?.locator('parley-widget').count()).toBe(0);
    expect(toParley).not.toContain('/widget.js');
    expect(llm.requests).toHaveLength(0);
  });
});
