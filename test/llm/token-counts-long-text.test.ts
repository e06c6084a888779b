// Long text is counted in pieces when a limit is given (a client's system messages and history
// past the budget are not counted to the end), and remembered by its hash rather than by itself.
// The count must not change for it.
import { describe, expect, it } from 'vitest';
import { countTokens, countTokensCached, countTokensWithin } from '../../src/llm/tokens.js';

const TEXTS: Array<[string, string]> = [
  ['English words', 'Answer politely and mention the hotel breakfast hours. '],
  ['double spaces, commas and new lines', 'Answer politely, and mention the  hotel breakfast hours.\n '],
  ['Latin, Han and words mixed', 'Über 電路板 words, naïve café; 我們生產電路板 and more '],
  ['spaces around blank lines', 'a  b\n c \n\n   d '],
];

describe('countTokensWithin on text longer than one piece', () => {
  it.each(TEXTS)('%s: the same count as the whole text when it is within the limit', (_label, unit) => {
    const text = unit.repeat(Math.ceil(200_000 / unit.length));
    const exact = countTokens(text);
    expect(countTokensWithin(text, exact)).toBe(exact);
    expect(countTokensWithin(text, 10 * exact)).toBe(exact);
  });

  it.each(TEXTS)('%s: some number above a smaller limit', (_label, unit) => {
    const text = unit.repeat(Math.ceil(200_000 / unit.length));
    const counted = countTokensWithin(text, 1000);
    expect(counted).toBeGreaterThan(1000);
    // Stopped soon after the limit: one piece past it at most, not the whole text.
    expect(counted).toBeLessThan(countTokens(text) / 2);
  });
});

describe('countTokensCached', () => {
  it('counts long text as countTokens does, the first time and the next', () => {
    const text = 'Sign as Harbour. '.repeat(500);
    expect(countTokensCached(text)).toBe(countTokens(text));
    expect(countTokensCached(text)).toBe(countTokens(text));
    expect(countTokensCached(`${text}!`)).toBe(countTokens(`${text}!`));
  });
});
