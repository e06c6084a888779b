// A visitor's steps with the widget on a host page, shared by the widget's browser tests: open it,
// say something, read the replies, and what the tests make the model or the page's storage do.
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import type { FakeLlm } from '../fake-llm/fake-llm.js';
import { embedPage, shadow, startWidgetStage, type HostSite, type ParleyServer, type WidgetStage } from '../helpers/browser.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';

export const GREETING = 'Hello! Ask me about orders and delivery.';

/** A server (started with `env`), host site and browser for the describe this is called in, handed to `use`. */
export function onOwnStage(use: (stage: WidgetStage) => void, env?: Record<string, string>): void {
  let stage: WidgetStage | undefined;
  beforeAll(async () => {
    stage = await startWidgetStage(env ? { env } : {});
    use(stage);
  });
  afterAll(() => stage?.close());
}

/** What each test of a describe using `eachWithPublicBot` is given. */
export interface PublicBotVisit {
  browser: Browser;
  parley: ParleyServer;
  site: HostSite;
  llm: FakeLlm;
  bot: { id: string; slug: string };
  context: BrowserContext;
}

/**
 * The describe's own stage (onOwnStage), and before each test the fake LLM reset, a public
 * chatbot of a new owner and a new browser context (closed after the test), handed to `use`.
 */
export function eachWithPublicBot(use: (visit: PublicBotVisit) => void, options: { env?: Record<string, string>; context?: BrowserContextOptions } = {}): void {
  let stage: WidgetStage;
  let context: BrowserContext | undefined;
  onOwnStage((given) => (stage = given), options.env);
  beforeEach(async () => {
    stage.llm.reset();
    const owner = await registerUser(stage.parley.t);
    const bot = await createChatbot(stage.parley.t, owner, { name: 'Shop helper', greeting: GREETING, is_public: true });
    context = await stage.browser.newContext(options.context);
    use({ browser: stage.browser, parley: stage.parley, site: stage.site, llm: stage.llm, bot, context });
  });
  afterEach(async () => {
    await context?.close();
  });
}

/** The chatbot's widget on a host page of its own, opened, its greeting shown. */
export async function openWidget(
  where: { site: HostSite; parley: ParleyServer; context: BrowserContext; bot: { slug: string } },
  attributes: Record<string, string> = {},
  page?: Page,
): Promise<Page> {
  const { site, parley, context, bot } = where;
  const url = site.page(`/shop-${bot.slug}`, embedPage({ parleyUrl: parley.url, attributes: { chatbot: bot.slug, ...attributes } }));
  const tab = page ?? (await context.newPage());
  await tab.goto(url);
  await shadow(tab).launcher.click();
  await expect.poll(() => shadow(tab).messages('assistant').first().textContent()).toContain(GREETING);
  return tab;
}

export async function say(page: Page, text: string): Promise<void> {
  await shadow(page).input.fill(text);
  await shadow(page).input.press('Enter');
}

/** The model's replies on screen, the greeting aside. */
export const replies = (page: Page) => shadow(page).log.locator('[part~=message][data-role=assistant]:not([data-greeting])');

/** The model answers `prompt` with `words` words (`stem0 stem1 …`), anything else with `You said: …`. */
export function replyLongTo(llm: FakeLlm, prompt: string, stem: string, words: number): string {
  const long = Array.from({ length: words }, (_, i) => `${stem}${i}`).join(' ');
  llm.setReply((request) => {
    const last = request.messages.at(-1)?.content ?? '';
    return last === prompt ? long : `You said: ${last}`;
  });
  return long;
}

/** What the server no longer accepts (a changed JWT_SECRET, a revoked visit): the saved visitor token's signature no longer matches. */
export async function spoilSavedToken(page: Page): Promise<void> {
  await page.evaluate(() => {
    const storage = (globalThis as any).localStorage;
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i);
      if (!key?.startsWith('parley:')) continue;
      const saved = JSON.parse(storage.getItem(key));
      saved.token = saved.token.slice(0, -4) + (saved.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      storage.setItem(key, JSON.stringify(saved));
    }
  });
}
