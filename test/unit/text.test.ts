import { describe, expect, it } from 'vitest';
import { codePointLength, conversationTitle, explicitTitle, isBlank, MAX_TITLE_UNITS, segment, splitGraphemes } from '../../src/lib/text.js';

const FAMILY = '👩‍👩‍👧‍👦';
const FLAG = '🇧🇩';
const BENGALI =
  'আমাদের কোম্পানি ঢাকায় অবস্থিত এবং আমরা উচ্চমানের প্রিন্টেড সার্কিট বোর্ড তৈরি করি যা বিশ্বের বিভিন্ন দেশে রপ্তানি হয়';

/** True when `part` is `whole`'s graphemes from the start, in order, none of them cut. */
function isGraphemePrefix(part: string[], whole: string[]): boolean {
  return part.every((grapheme, i) => grapheme === whole[i]);
}

describe('codePointLength', () => {
  it('counts code points, not UTF-16 units or graphemes', () => {
    expect(codePointLength('')).toBe(0);
    expect(codePointLength('abc')).toBe(3);
    expect(codePointLength('電路板')).toBe(3);
    expect(codePointLength('😀')).toBe(1);
    expect(codePointLength(FAMILY)).toBe(7);
    expect(codePointLength(FLAG)).toBe(2);
  });
});

describe('isBlank', () => {
  it.each([
    ['empty', ''],
    ['spaces and tabs', ' \t '],
    ['line breaks', '\n\r\n'],
    ['ideographic space', '\u3000'],
    ['no-break space', '\u00a0'],
    ['line and paragraph separators', '\u2028\u2029'],
    ['zero-width space', '\u200b'],
    ['byte order mark', '\ufeff'],
    ['lone zero-width non-joiner', '\u200c'],
    ['lone zero-width joiner', '\u200d'],
    ['word joiner and Hangul filler', '\u2060\u3164'],
    ['a mixture', ' \u200b\u3000\n\ufeff\u00a0 '],
  ])('is true for %s', (_name, text) => {
    expect(isBlank(text)).toBe(true);
  });

  it.each([['a'], [' a '], ['。'], ['ক'], [FAMILY], ['\u200ba\u200b'], ['0']])('is false for %j', (text) => {
    expect(isBlank(text)).toBe(false);
  });
});

describe('conversationTitle', () => {
  it('keeps a short Chinese message whole', () => {
    expect(conversationTitle('我的公司是電子業，我們生產電路板')).toBe('我的公司是電子業，我們生產電路板');
  });

  it('cuts a long Chinese message to 59 characters and an ellipsis', () => {
    const long = '我們生產電路板，公司位於台北。'.repeat(6);
    const title = conversationTitle(long);
    expect(title).toBe(`${'我們生產電路板，公司位於台北。'.repeat(3)}我們生產電路板，公司位於台北…`);
    expect(splitGraphemes(title!)).toHaveLength(60);
  });

  it('cuts a long Bengali sentence between graphemes, never inside a conjunct or vowel sign', () => {
    const title = conversationTitle(BENGALI)!;
    const parts = splitGraphemes(title);
    expect(parts).toHaveLength(60);
    expect(parts.at(-1)).toBe('…');
    expect(isGraphemePrefix(parts.slice(0, -1), splitGraphemes(BENGALI))).toBe(true);
    expect(title).toBe(`${splitGraphemes(BENGALI).slice(0, 59).join('')}…`);
    // Cutting by code points instead would end in the middle of a cluster here.
    expect(BENGALI.slice(0, 59)).not.toBe(splitGraphemes(BENGALI).slice(0, 59).join(''));
  });

  it('keeps emoji ZWJ sequences, flags and skin tones whole', () => {
    expect(conversationTitle(`${FAMILY}${FLAG}`.repeat(40))).toBe(`${`${FAMILY}${FLAG}`.repeat(29)}${FAMILY}…`);
    expect(conversationTitle('👍🏽'.repeat(70))).toBe(`${'👍🏽'.repeat(59)}…`);
    expect(conversationTitle(`${FAMILY}${FLAG}`.repeat(30))).toBe(`${FAMILY}${FLAG}`.repeat(30));
  });

  it('takes the first non-blank line and collapses whitespace', () => {
    const message = '\n   \n\u3000\u200b\n  Where is   the\tfactory?\u00a0 \nSecond line';
    expect(conversationTitle(message)).toBe('Where is the factory?');
    expect(conversationTitle('first\r\nsecond')).toBe('first');
    expect(conversationTitle('\u2028first\u2029second')).toBe('first');
  });

  it('is null for blank messages', () => {
    for (const blank of ['', '   ', '\n\t\n', '\u3000\u00a0', '\u200b\ufeff\u200d', ' \n\u2028 \n']) {
      expect(conversationTitle(blank)).toBeNull();
    }
  });

  it('counts the ellipsis and drops whitespace before it', () => {
    expect(conversationTitle('x'.repeat(60))).toBe('x'.repeat(60));
    expect(conversationTitle('x'.repeat(61))).toBe(`${'x'.repeat(59)}…`);
    expect(conversationTitle(`${'a'.repeat(58)} ${'b'.repeat(10)}`)).toBe(`${'a'.repeat(58)}…`);
    expect(conversationTitle(`${'x'.repeat(60)}   \u200b `)).toBe('x'.repeat(60));
    expect(conversationTitle('Hello world, how are you', 10)).toBe('Hello wor…');
  });

  it('keeps a variation selector at the cut, since it belongs to the emoji', () => {
    expect(conversationTitle(`${'a'.repeat(58)}❤️bbb`)).toBe(`${'a'.repeat(58)}❤️…`);
  });

  it('keeps 60 family emoji whole, as an explicit title of them is kept', () => {
    expect(conversationTitle(FAMILY.repeat(60))).toBe(FAMILY.repeat(60));
    expect(explicitTitle(FAMILY.repeat(60))).toEqual({ title: FAMILY.repeat(60) });
    expect(conversationTitle(FAMILY.repeat(61))).toBe(`${FAMILY.repeat(59)}…`);
    expect(explicitTitle(FAMILY.repeat(61))).toEqual({ refused: expect.any(String) });
  });

  it('cuts a grapheme of absurd length (an "e" with 5,000 combining marks) to its first 16 code units', () => {
    const title = conversationTitle(`e${'\u0301'.repeat(5_000)} then words`)!;
    expect(title).toBe(`e${'\u0301'.repeat(15)} then words`);
    expect(conversationTitle(`x${'\u0301'.repeat(5_000)}`)).toBe(`x${'\u0301'.repeat(15)}`);
    for (const mark of ['\u0301', '\u0e49', '\u{1d167}']) {
      expect(conversationTitle(`é ${`a${mark.repeat(300)}`.repeat(80)}`)!.length).toBeLessThanOrEqual(MAX_TITLE_UNITS);
    }
  });
});

describe('explicitTitle', () => {
  it('refuses what looks empty, as a message of it is refused', () => {
    for (const blank of ['\u200b\u200b', ' \u200d\ufeff\u2060 ', '\u3164']) {
      expect(isBlank(blank)).toBe(true);
      expect(explicitTitle(blank)).toEqual({ refused: 'must not be empty' });
    }
  });

  it('trims and collapses as the title from a message does, and refuses a grapheme of absurd length', () => {
    expect(explicitTitle('  \u200bQuarterly \n\t report\u200b  ')).toEqual({ title: 'Quarterly report' });
    expect(explicitTitle(`e${'\u0301'.repeat(40)}`)).toEqual({ refused: expect.any(String) });
    expect(explicitTitle('👩🏽‍❤️‍💋‍👨🏻 🏴󠁧󠁢󠁳󠁣󠁴󠁿')).toEqual({ title: '👩🏽‍❤️‍💋‍👨🏻 🏴󠁧󠁢󠁳󠁣󠁴󠁿' });
  });
});

describe('conversationTitle limits', () => {
  it('refuses a maximum with no room for text before the ellipsis', () => {
    expect(() => conversationTitle('hello', 1)).toThrow(RangeError);
  });
});

describe('segment', () => {
  const mixed = `Hello, world! ${BENGALI} ${FAMILY}${FLAG}${FLAG}👍🏽 done. ${'x'.repeat(50)} end`;

  it('gives the same graphemes window by window as over the whole text', () => {
    const whole = Array.from(new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(mixed), (s) => s.segment);
    // Windows need only be longer than the longest grapheme (the family emoji: 11 UTF-16 units).
    for (const window of [12, 13, 17, 2048]) {
      expect(Array.from(segment(mixed, 'grapheme', window), (s) => s.segment)).toEqual(whole);
    }
    expect(splitGraphemes(mixed)).toEqual(whole);
  });

  it('gives the same words window by window for space-separated scripts', () => {
    const words = (window: number) => Array.from(segment(mixed, 'word', window), (s) => [s.segment, s.isWordLike]);
    const whole = Array.from(new Intl.Segmenter(undefined, { granularity: 'word' }).segment(mixed), (s) => [s.segment, s.isWordLike]);
    expect(words(64)).toEqual(whole);
  });

  it('reports offsets into the whole text and loses nothing, even when one word is longer than a window', () => {
    for (const granularity of ['grapheme', 'word', 'sentence'] as const) {
      const parts = Array.from(segment(mixed, granularity, 12));
      expect(parts.map((s) => s.segment).join('')).toBe(mixed);
      for (const part of parts) expect(mixed.slice(part.index, part.index + part.segment.length)).toBe(part.segment);
    }
  });

  it('cuts an over-long sentence at a word boundary', () => {
    const sentence = `${'word '.repeat(30)}end.`;
    const parts = Array.from(segment(sentence, 'sentence', 32), (s) => s.segment);
    expect(parts.join('')).toBe(sentence);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts.slice(0, -1)) expect(part).toMatch(/ $/);
  });
});
