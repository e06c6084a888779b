// The widget for everyone: what a screen reader, a keyboard, a phone, a visitor who asked for less
// motion or another language, and a host site with a strict Content-Security-Policy get. In real
// Chromium, on a host page of another origin, with a real Parley and the fake LLM behind it. axe
// must find nothing serious or critical in any state a visitor can reach.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { STRINGS } from '../../widget/src/i18n.js';
import type { FakeLlm } from '../fake-llm/fake-llm.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { see } from '../helpers/see.js';
import {
  cspWatch,
  describeBrowser,
  embedPage,
  
  runAxe,
  shadow,
  
  
  type EmbedOptions,
  type HostSite,
  type ParleyServer,
  startWidgetStage,
  type WidgetStage,
} from '../helpers/browser.js';

let stage: WidgetStage;
let browser: Browser;
let parley: ParleyServer;
let site: HostSite;
let llm: FakeLlm;
let owner: RegisteredUser;
let bot: { id: string; slug: string };
let context: BrowserContext | undefined;

const NAME = 'Shop helper';
const GREETING = 'Hello! Ask me about orders and delivery.';
// A reply with everything a bubble can hold: a paragraph, a list, a link and a code block.
const RICH_REPLY = [
  'Here is how delivery works:',
  '',
  '- Orders placed before **2 pm** ship the same day',
  '- Delivery takes one to three working days',
  '- Returns are free for 30 days',
  '',
  'Track a parcel on [our delivery page](https://shop.example.com/delivery), or from a terminal:',
  '',
  '```sh',
  'curl https://shop.example.com/track/A1234',
  '```',
].join('\n');

const HOST_BODY = [
  '<header><nav aria-label="Main"><a href="#products">Products</a> <a href="#delivery">Delivery</a></nav></header>',
  '<main>',
  '<h1>Our shop</h1>',
  '<p>Everything you need, delivered tomorrow. Fresh bread, coffee beans roasted this week, and tea from small farms.</p>',
  '<h2 id="products">Products</h2>',
  '<ul><li>Sourdough loaf</li><li>House espresso blend, 500 g</li><li>Oolong from Alishan</li></ul>',
  '<h2 id="delivery">Delivery</h2>',
  '<p>We deliver every weekday. Questions? Ask our chat assistant in the corner.</p>',
  '</main>',
].join('\n');

// The screenshot's host page looks like a site (an inline style: only where no CSP is tested).
const STYLED_BODY = [
  '<style>body{margin:0;font:16px/1.6 Georgia,serif;color:#1f2937;background:#fdfaf5}header{background:#7c2d12;padding:14px 48px}',
  'header a{color:#fff;margin-right:24px;font:600 15px system-ui,sans-serif;text-decoration:none}main{max-width:640px;padding:24px 48px}',
  'h1{font-size:40px;margin:8px 0}h2{margin:28px 0 8px}</style>',
  HOST_BODY,
].join('');

const SCREENSHOT = fileURLToPath(new URL('../../docs/widget-open.png', import.meta.url));

async function newPage(options: BrowserContextOptions = {}): Promise<Page> {
  context = await browser.newContext(options);
  return context.newPage();
}

/** The host page's URL; `mobile` gives it the viewport tag of a site made for phones. */
function hostPage(attributes: Record<string, string> = {}, options: Partial<EmbedOptions> & { mobile?: boolean } = {}): string {
  const { mobile, ...embed } = options;
  const path = `/shop-${bot.slug}-${Object.values(attributes).join('-') || 'plain'}${mobile ? '-mobile' : ''}`;
  const spec = embedPage({ parleyUrl: parley.url, body: HOST_BODY, ...embed, attributes: { chatbot: bot.slug, ...attributes } });
  if (mobile) spec.html = spec.html.replace('<meta charset="utf-8">', '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">');
  return site.page(path, spec);
}

/** Loads a host page, opens the chat and waits for the greeting. */
async function openChat(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await shadow(page).launcher.click();
  await see(shadow(page).messages('assistant')).contains(GREETING);
  await see(page.getByRole('dialog', { name: NAME })).count(1);
}

const replies = (page: Page) => shadow(page).log.locator('[part~=message][data-role=assistant]:not([data-greeting])');

async function say(page: Page, text: string): Promise<void> {
  await shadow(page).input.fill(text);
  await shadow(page).input.press('Enter');
}

/** A sent question and the rich reply, complete. */
async function converse(page: Page): Promise<void> {
  llm.setReply(() => RICH_REPLY);
  await say(page, 'How does delivery work?');
  await see(shadow(page).messages('user')).texts(['How does delivery work?']);
  await see(replies(page).first(), 15_000).attribute('data-status', 'complete');
  const reply = replies(page).first();
  await see(reply.locator('a')).attribute('href', 'https://shop.example.com/delivery');
  await see(reply.locator('li')).count(3);
  await see(reply.locator('pre code')).contains('curl https://shop.example.com/track/A1234');
}

/** The computed style properties of the first element a locator finds. */
function styleOf(page: Page, selector: string, properties: string[]): Promise<Record<string, string>> {
  return page.locator(selector).first().evaluate((element, names) => {
    const style = (globalThis as any).getComputedStyle(element);
    return Object.fromEntries(names.map((name: string) => [name, String(style.getPropertyValue(name))]));
  }, properties);
}

/** Relative luminance (WCAG) of a computed `rgb(r, g, b)` colour. */
function luminance(rgb: string): number {
  const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((c) => {
    const v = Number(c) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (b ?? 0);
}

/** axe's color-contrast rule alone, with where it ended up: it must have checked the widget's text. */
async function contrastRule(page: Page): Promise<{ passedInWidget: number; violations: number; inapplicable: boolean }> {
  await runAxe(page); // loads axe into the page
  return page.evaluate(async () => {
    const axe = (globalThis as any).axe;
    const result = await axe.run((globalThis as any).document, { runOnly: { type: 'rule', values: ['color-contrast'] } });
    const inWidget = (nodes: any[]) => nodes.filter((node) => JSON.stringify(node.target).includes('parley-widget')).length;
    return {
      passedInWidget: inWidget((result.passes as any[]).flatMap((rule) => rule.nodes)),
      violations: (result.violations as any[]).reduce((n, rule) => n + rule.nodes.length, 0),
      inapplicable: (result.inapplicable as any[]).some((rule) => rule.id === 'color-contrast'),
    };
  });
}

/**
 * axe finds nothing serious, and its colour-contrast rule really ran and passed inside the widget.
 * The axe check is soft: a violation fails the test but the contrast checks still run and report.
 */
async function expectAccessibleWithContrast(page: Page): Promise<void> {
  expect.soft(await runAxe(page)).toEqual([]);
  const contrast = await contrastRule(page);
  expect(contrast).toMatchObject({ violations: 0, inapplicable: false });
  expect(contrast.passedInWidget).toBeGreaterThan(0);
}


describeBrowser('the widget for every visitor', () => {
  beforeAll(async () => {
    stage = await startWidgetStage();
    ({ llm, parley, site, browser } = stage);
  });
  afterAll(() => stage?.close());
  beforeEach(async () => {
    llm.reset();
    owner = await registerUser(parley.t);
    bot = await createChatbot(parley.t, owner, { name: NAME, greeting: GREETING, is_public: true });
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  it('leaves nothing serious for axe on a host page with the launcher closed', async () => {
    const page = await newPage();
    await page.goto(hostPage());
    await see(shadow(page).launcher).visible();
    expect(await runAxe(page)).toEqual([]);
  });

  it('in the light theme, shows a conversation with a link, a list and code that axe finds nothing serious in, its contrast checked', async () => {
    const page = await newPage({ viewport: { width: 1280, height: 800 } });
    await openChat(page, hostPage({ theme: 'light' }, { body: STYLED_BODY }));
    await converse(page);
    // The README's picture of the widget, refreshed by CI's test run (CI=true) or on request
    // (UPDATE_SCREENSHOT=1), so a developer's test run leaves the checkout as it was.
    await shadow(page).input.blur();
    const picture = await page.screenshot({ animations: 'disabled' });
    expect(picture.length).toBeGreaterThan(10_000);
    if (process.env.CI === 'true' || process.env.UPDATE_SCREENSHOT === '1') {
      mkdirSync(fileURLToPath(new URL('../../docs/', import.meta.url)), { recursive: true });
      writeFileSync(SCREENSHOT, picture);
    }
    const panel = await styleOf(page, 'parley-widget [part=panel]', ['background-color']);
    expect(luminance(panel['background-color']!)).toBeGreaterThan(0.8);
    await expectAccessibleWithContrast(page);
  });

  it('in the dark theme, shows the same conversation on a dark panel that axe finds nothing serious in', async () => {
    const page = await newPage();
    await openChat(page, hostPage({ theme: 'dark' }));
    await converse(page);
    const panel = await styleOf(page, 'parley-widget [part=panel]', ['background-color', 'color']);
    expect(luminance(panel['background-color']!)).toBeLessThan(0.05);
    expect(luminance(panel.color!)).toBeGreaterThan(0.8);
    await expectAccessibleWithContrast(page);
  });

  it('in the automatic theme, follows a visitor who prefers dark', async () => {
    const page = await newPage();
    await page.emulateMedia({ colorScheme: 'dark' });
    await openChat(page, hostPage({ theme: 'auto' }));
    await converse(page);
    const panel = await styleOf(page, 'parley-widget [part=panel]', ['background-color', 'color']);
    expect(luminance(panel['background-color']!)).toBeLessThan(0.05);
    expect(luminance(panel.color!)).toBeGreaterThan(0.8);
    expect.soft(await runAxe(page)).toEqual([]);
    // And back to light when the visitor's preference changes.
    await page.emulateMedia({ colorScheme: 'light' });
    await expect.poll(async () => luminance((await styleOf(page, 'parley-widget [part=panel]', ['background-color']))['background-color']!)).toBeGreaterThan(0.8);
  });

  it('leaves nothing serious for axe with the earlier conversations listed', async () => {
    const page = await newPage();
    await openChat(page, hostPage({ theme: 'light' }));
    await say(page, 'First question');
    await see(replies(page)).texts(['You said: First question']);
    await shadow(page).part('new').click();
    await say(page, 'Second question');
    await see(replies(page)).texts(['You said: Second question']);
    await shadow(page).part('history').click();
    await see(shadow(page).part('conversations').locator('button')).count(2);
    await see(shadow(page).part('history')).attribute('aria-expanded', 'true');
    expect(await runAxe(page)).toEqual([]);
  });

  for (const theme of ['light', 'dark'] as const) {
    it(`leaves nothing serious for axe with an error and its retry button shown (${theme})`, async () => {
      const page = await newPage();
      await openChat(page, hostPage({ theme }));
      await page.route('**/v1/public/**/messages', (route) => (route.request().method() === 'POST' ? route.abort('internetdisconnected') : route.continue()));
      await say(page, 'Is this thing on?');
      await see(shadow(page).part('error')).contains('Could not reach the chat');
      await see(shadow(page).part('retry')).visible();
      expect(await page.getByRole('alert').count()).toBeGreaterThan(0);
      expect(await runAxe(page)).toEqual([]);
    });
  }

  it('can be used with the keyboard alone, and tells a screen reader each finished reply once', async () => {
    const reply = 'We deliver every weekday between nine and five, and on Saturdays until noon.';
    llm.setReply(() => reply);
    llm.setDelays({ chunkDelayMs: 60 });
    const page = await newPage();
    await page.goto(hostPage());
    const w = shadow(page);
    await see(w.launcher).visible();

    // Tab from the top of the page reaches the launcher: a real, named, big enough button.
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await w.focusedPart()) === 'launcher';
    }
    expect(reached).toBe(true);
    expect(await w.launcher.evaluate((element) => element.tagName)).toBe('BUTTON');
    await see(page.getByRole('button', { name: STRINGS.en.open })).count(1);
    const box = await w.launcher.boundingBox();
    expect(box?.width).toBeGreaterThanOrEqual(44);
    expect(box?.height).toBeGreaterThanOrEqual(44);
    const ring = await styleOf(page, 'parley-widget button[part=launcher]', ['outline-style', 'outline-width']);
    expect(ring['outline-style']).not.toBe('none');
    expect(parseFloat(ring['outline-width']!)).toBeGreaterThan(0);

    // Enter opens a dialog named after the chatbot, with focus in the message box.
    await page.keyboard.press('Enter');
    await see(w.panel).visible();
    await see(w.launcher).attribute('aria-expanded', 'true');
    await see(w.input).focused();
    await see(page.getByRole('dialog', { name: NAME })).count(1);
    const labelledBy = await w.panel.getAttribute('aria-labelledby');
    expect(labelledBy).toBeTruthy();
    await see(page.locator(`parley-widget #${labelledBy}`)).texts([NAME]);
    await see(w.log.locator('[part~=message]')).count(1); // the greeting, inside the log

    // One live region, in the host page's light DOM, polite; watched for everything written to it.
    const live = page.locator('body > [data-parley-live]');
    await see(live).count(1);
    expect(await page.locator('[data-parley-live]').count()).toBe(1);
    expect(await live.getAttribute('aria-live')).toBe('polite');
    await live.evaluate((region) => {
      const said: string[] = [];
      (globalThis as any).__liveSaid = said;
      new (globalThis as any).MutationObserver((records: any[]) => {
        for (const record of records) {
          if (record.type === 'characterData') said.push(String(record.target.data));
          for (const node of record.addedNodes) said.push(String(node.textContent));
        }
      }).observe(region, { childList: true, characterData: true, subtree: true });
    });

    // Shift+Enter is a new line, Enter sends.
    await page.keyboard.type('When do you deliver?');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('And on Saturdays?');
    await see(w.input).value('When do you deliver?\nAnd on Saturdays?');
    await see(w.messages('user')).count(0);
    expect(llm.requests).toHaveLength(0);
    await page.keyboard.press('Enter');
    await see(w.messages('user')).count(1);
    await see(w.input).value('');
    await expect.poll(() => llm.requests[0]?.messages.at(-1)?.content).toBe('When do you deliver?\nAnd on Saturdays?');

    // The reply streams into the log, is announced once when complete, never word by word.
    await see(w.log.locator('[part~=message]')).count(3);
    await see(replies(page).first(), 15_000).attribute('data-status', 'complete');
    await see(replies(page).first()).contains(reply);
    await expect.poll(() => live.textContent()).toBe(`${NAME}: ${reply}`);
    await page.waitForTimeout(300); // anything else it would say right after
    const said = (await page.evaluate(() => (globalThis as any).__liveSaid as string[])).filter((text) => text !== '');
    expect(said).toEqual([`${NAME}: ${reply}`]);

    // Tab moves through the panel's controls, each showing where focus is; the composer is last.
    await see(w.input).focused();
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Shift+Tab');
      order.push(String(await w.focusedPart()));
    }
    expect(order).toEqual(['log', 'close', 'new', 'history', 'launcher']);
    const forward: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      const part = String(await w.focusedPart());
      forward.push(part);
      const style = await styleOf(page, `parley-widget [part~=${part}]`, ['outline-style']);
      expect(style['outline-style'], `focus indicator on ${part}`).not.toBe('none');
    }
    expect(forward).toEqual(['history', 'new', 'close', 'log', 'input', 'send']);

    // Esc closes the panel and gives focus back to the launcher.
    await page.keyboard.press('Escape');
    await see(w.panel).hidden();
    await see(w.launcher).focused();
    await see(w.launcher).attribute('aria-expanded', 'false');
    await see(page.getByRole('button', { name: STRINGS.en.open })).count(1);
  });

  it('moves nothing for a visitor who asked for reduced motion', async () => {
    const page = await newPage();
    await page.goto(hostPage());
    await see(shadow(page).launcher).visible();
    const moving = await styleOf(page, 'parley-widget button[part=launcher]', ['transition-duration']);
    expect(moving['transition-duration']).not.toBe('0s');
    await page.emulateMedia({ reducedMotion: 'reduce' });
    await expect.poll(async () => (await styleOf(page, 'parley-widget button[part=launcher]', ['transition-duration']))['transition-duration']).toBe('0s');
  });

  for (const locale of ['zh-Hant', 'bn'] as const) {
    it(`speaks ${locale} when the embed asks for it`, async () => {
      const strings = STRINGS[locale];
      expect(strings.send).not.toBe(STRINGS.en.send);
      const page = await newPage();
      await page.goto(hostPage({ locale }));
      await see(shadow(page).launcher).attribute('aria-label', strings.open);
      await shadow(page).launcher.click();
      await see(shadow(page).panel).visible();
      await see(shadow(page).send).texts([strings.send]);
      await see(shadow(page).input).attribute('placeholder', strings.placeholder);
      await see(shadow(page).input).attribute('aria-label', strings.message);
      await see(shadow(page).panel).attribute('lang', locale);
      await see(shadow(page).launcher).attribute('aria-label', strings.close);
      await see(shadow(page).messages('assistant')).contains(GREETING);
      expect(await runAxe(page)).toEqual([]);
    });
  }

  it("speaks the host page's language when the embed names none", async () => {
    const strings = STRINGS.bn;
    const page = await newPage({ locale: 'en-US' });
    await page.goto(hostPage({}, { lang: 'bn' }));
    await see(shadow(page).launcher).attribute('aria-label', strings.open);
    await shadow(page).launcher.click();
    await see(shadow(page).send).texts([strings.send]);
    await see(shadow(page).input).attribute('placeholder', strings.placeholder);
    await see(shadow(page).panel).attribute('lang', 'bn');
  });

  it('on a phone, fills the screen, keeps text readable without zoom and the composer above the keyboard', async () => {
    const page = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await page.goto(hostPage({ theme: 'light' }, { mobile: true }));
    const w = shadow(page);
    await see(w.launcher).visible();
    const launcher = await w.launcher.boundingBox();
    expect(launcher?.width).toBeGreaterThanOrEqual(44);
    expect(launcher?.height).toBeGreaterThanOrEqual(44);
    await w.launcher.tap();
    await see(w.panel).visible();
    await see(w.messages('assistant')).contains(GREETING);
    const panel = await w.panel.boundingBox();
    expect(panel?.x).toBeCloseTo(0, 0);
    expect(panel?.y).toBeCloseTo(0, 0);
    expect(panel?.width).toBeCloseTo(390, 0);
    expect(panel?.height).toBeCloseTo(844, 0);
    const input = await styleOf(page, 'parley-widget textarea[part=input]', ['font-size']);
    expect(parseFloat(input['font-size']!)).toBeGreaterThanOrEqual(16);
    await see(w.part('close')).visible();

    // The on-screen keyboard takes the lower part of the screen: the composer stays in view.
    await page.setViewportSize({ width: 390, height: 500 });
    const composer = page.locator('parley-widget form[part=composer]');
    const visible = () => page.evaluate(() => {
      const viewport = (globalThis as any).visualViewport;
      return { top: viewport.offsetTop as number, bottom: (viewport.offsetTop + viewport.height) as number };
    });
    await expect
      .poll(async () => {
        const box = await composer.boundingBox();
        const view = await visible();
        return box !== null && box.y >= view.top && box.y + box.height <= view.bottom + 0.5;
      })
      .toBe(true);
    await say(page, 'Can I still type?');
    await see(replies(page)).texts(['You said: Can I still type?']);
    expect(await runAxe(page)).toEqual([]);
  });

  it('on a phone, keeps the composer inside the part of the page the visitor sees when it is zoomed', async () => {
    const page = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await page.goto(hostPage({ theme: 'light' }, { mobile: true }));
    const w = shadow(page);
    await w.launcher.tap();
    await see(w.messages('assistant')).contains(GREETING);
    // A pinch shrinks the visual viewport (as an on-screen keyboard does) while the layout one stays.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setPageScaleFactor', { pageScaleFactor: 2 });
    const placement = () =>
      page.evaluate(() => {
        const window = globalThis as any;
        const form = window.document.querySelector('parley-widget').shadowRoot.querySelector('form[part=composer]');
        const box = form.getBoundingClientRect();
        const view = window.visualViewport;
        return { zoomed: view.scale > 1.5, scale: view.scale, top: view.offsetTop, height: view.height, composerBottom: box.bottom, inside: box.top >= view.offsetTop - 0.5 && box.bottom <= view.offsetTop + view.height + 0.5 };
      });
    // The rest of the answer (offsets, heights) is there to read when it fails.
    await expect.poll(placement).toMatchObject({ zoomed: true, inside: true });
  });

  it('works, styled and without a single violation, on a host page with a strict Content-Security-Policy', async () => {
    const page = await newPage();
    const csp = cspWatch(page);
    const policy = `default-src 'none'; script-src ${parley.url}; connect-src ${parley.url}`;
    const response = await page.goto(hostPage({ theme: 'light' }, { csp: policy }));
    expect(response?.headers()['content-security-policy']).toBe(policy);
    const w = shadow(page);
    await see(w.launcher).visible();
    const launcher = await styleOf(page, 'parley-widget button[part=launcher]', ['width', 'height', 'border-radius', 'position']);
    expect(launcher).toMatchObject({ width: '56px', height: '56px', 'border-radius': '50%' });
    // What the widget shows sits in a fixed frame of the shadow root (the element itself draws no box).
    expect((await styleOf(page, 'parley-widget .frame', ['position'])).position).toBe('fixed');
    await w.launcher.click();
    await see(w.messages('assistant')).contains(GREETING);
    await say(page, 'Does this work here?');
    await see(replies(page)).texts(['You said: Does this work here?']);
    const panel = await styleOf(page, 'parley-widget [part=panel]', ['position', 'border-radius']);
    expect(panel).toMatchObject({ position: 'absolute', 'border-radius': '16px' });
    await page.waitForTimeout(200); // reports arrive a moment after what caused them
    expect(csp.violations).toEqual([]);
  });
});
