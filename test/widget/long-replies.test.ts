// A long reply as a visitor reads it while it is written: they select a paragraph to copy it, and
// the reply goes on growing below. Each frame used to rebuild the whole bubble, so the selection
// vanished within a frame (and a screen reader's reading position with it); on a phone (Chromium
// at 4× CPU slowdown) a 71,000-character reply also held the host page in 102 long tasks, up to
// 509 ms each, 9.9 s in all (24, at most 110 ms, once only changed blocks were drawn; none since a
// parse takes up from the last closed block: docs/decisions.md; measured, not asserted here).
// And a reply past the 100,000 characters the widget formats: the rest was dropped without a sign.
import { expect, it } from 'vitest';
import { describeBrowser, shadow } from '../helpers/browser.js';
import { see } from '../helpers/see.js';
import { eachWithPublicBot, openWidget, replies, say, type PublicBotVisit } from './widget-visit.js';

let visit: PublicBotVisit;

const paragraph = (i: number) => `Step ${i}: ` + Array.from({ length: 30 }, (_, j) => `word${i}x${j}`).join(' ');

describeBrowser('a long reply being written', () => {
  eachWithPublicBot((given) => (visit = given));

  it('keeps what the visitor selected in its first paragraphs while the rest is written', { timeout: 60_000 }, async () => {
    const { llm } = visit;
    const text = Array.from({ length: 40 }, (_, i) => paragraph(i)).join('\n\n');
    llm.setReply(() => text);
    llm.setDelays({ chunkDelayMs: 4 });
    const page = await openWidget(visit);
    await say(page, 'How do I set it up?');
    const paragraphs = replies(page).first().locator('p');
    await expect.poll(() => paragraphs.count(), { timeout: 20_000 }).toBeGreaterThan(2);
    // The visitor drags over the first paragraph, as to copy it.
    await paragraphs.first().evaluate((p) => {
      const window = globalThis as any;
      const range = window.document.createRange();
      range.selectNodeContents(p);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
    });
    const selected = () => page.evaluate(() => String((globalThis as any).getSelection()));
    expect(await selected()).toBe(paragraph(0));
    const shownThen = await paragraphs.count();
    await expect.poll(() => paragraphs.count(), { timeout: 20_000 }).toBeGreaterThan(shownThen + 2);
    expect(await selected()).toBe(paragraph(0));
    await see(replies(page).first(), 30_000).attribute('data-status', 'complete');
    await see(paragraphs).count(40);
    expect(await selected()).toBe(paragraph(0));
  });
});

describeBrowser('a reply longer than the widget formats', () => {
  eachWithPublicBot((given) => (visit = given));

  it('shows all of it, to its last word, as the server stored it', { timeout: 60_000 }, async () => {
    const { llm } = visit;
    // 2,000 lines of about 60 characters: some 125,000 characters, past the 100,000 formatted.
    const text = Array.from({ length: 2_000 }, (_, i) => `Line ${i} of the inventory: item ${i}, in stock, shelf ${i % 40}.`).join('\n');
    llm.setReply(() => text);
    const page = await openWidget(visit);
    await say(page, 'List the whole inventory');
    const reply = replies(page).first();
    await see(reply, 30_000).attribute('data-status', 'complete');
    const shown = await reply.locator('div').first().innerText();
    expect(shown).toContain('Line 1999 of the inventory: item 1999, in stock, shelf 39.');
    // Every character, in order (the formatted part and the plain rest are two paragraphs).
    expect(shown.replace(/\s+/g, '')).toBe(text.replace(/\s+/g, ''));
  });
});

describeBrowser('a reply drawn while it is written', () => {
  eachWithPublicBot((given) => (visit = given));

  // Only what changed is drawn again each frame: a paragraph or list keeps its leading parts, a
  // code block gets what it gained appended (a long one in pieces of lines). What is on screen at
  // the end must be what drawing the whole reply at once gives, as a visitor coming back to the
  // conversation sees it, and the code a visitor copies must be the code, each empty line kept.
  it('ends drawn exactly as the same reply drawn whole from the history', { timeout: 60_000 }, async () => {
    const { llm } = visit;
    // 130 lines, empty ones where the pieces' cuts would fall and between.
    const code = Array.from({ length: 130 }, (_, i) => ([48, 49, 50, 51, 77, 100].includes(i) ? '' : `echo line ${i}  # keep  spacing`)).join('\n');
    const text = [
      'Here is **the plan**, with a [bad link](javascript:alert(1)) and a [good one](https://example.com/docs):',
      Array.from({ length: 30 }, (_, i) => `${i + 1}. Step ${i + 1}: *check* item \`${i}\``).join('\n'),
      '```sh\n' + code + '\n```',
      Array.from({ length: 40 }, (_, i) => `Row ${i}: value ${i * 3}`).join('\n'),
      '- last\n- list\n\n  continued after a blank',
    ].join('\n\n');
    llm.setReply(() => text);
    llm.setDelays({ chunkDelayMs: 3 });
    const page = await openWidget(visit);
    await say(page, 'Give me the plan');
    await see(replies(page).first(), 30_000).attribute('data-status', 'complete');
    const drawn = () => replies(page).first().locator('div').first().evaluate((body) => body.innerHTML);
    const streamed = await drawn();
    const block = replies(page).first().locator('pre');
    expect(await block.locator('span').count()).toBeGreaterThan(1);
    // The visitor selects the whole block to copy it.
    await block.evaluate((pre) => {
      const window = globalThis as any;
      const range = window.document.createRange();
      range.selectNodeContents(pre);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
    });
    expect(await page.evaluate(() => String((globalThis as any).getSelection()))).toBe(code);
    expect(await block.innerText()).toBe(code);
    await page.reload();
    await shadow(page).launcher.click();
    await see(replies(page)).count(1);
    expect(await drawn()).toBe(streamed);
    expect(streamed).toContain('<li>Step 30: <em>check</em> item <code>29</code></li>');
    expect(streamed).toContain('echo line 129  # keep  spacing</span></code></pre>');
  });
});
