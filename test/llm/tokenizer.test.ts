// The token counter gives gpt-tokenizer's o200k counts (special tokens counted as text) on any
// text: prompt budgets, usage estimates and knowledge chunks are sized by these numbers.
import { countTokens as reference, encode } from 'gpt-tokenizer';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { countBpe } from '../../src/llm/bpe.js';
import { loadTable, lookup } from '../../src/llm/bpe-table.js';
import { countTokens, countTokensWithin } from '../../src/llm/tokens.js';
import { seededRandom } from '../helpers/random.js';

const PLAIN = { disallowedSpecial: new Set<string>() };
const expected = (text: string) => reference(text, PLAIN);

const random = seededRandom(20240601);
const below = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[below(items.length)]!;
const repeat = (n: number, make: () => string) => Array.from({ length: n }, make).join('');

// Code point ranges of scripts with different shapes of token: Latin with accents, Greek,
// Cyrillic, Arabic, Hebrew, Devanagari, Bengali, Thai, Han, kana, Hangul, combining marks, emoji.
const SCRIPTS: Array<[number, number]> = [
  [0x41, 0x5a], [0x61, 0x7a], [0xc0, 0x17f], [0x391, 0x3c9], [0x410, 0x44f], [0x621, 0x64a], [0x5d0, 0x5ea],
  [0x905, 0x939], [0x985, 0x9b9], [0x9be, 0x9cc], [0xe01, 0xe3a], [0x4e00, 0x4fff], [0x3041, 0x30ff],
  [0xac00, 0xad00], [0x300, 0x36f], [0x1f600, 0x1f64f], [0x1f300, 0x1f5ff], [0x1f1e6, 0x1f1ff],
];
const WHITESPACE = [' ', '  ', '\t', '\n', '\r\n', '\n\n', ' \n ', '\u00a0', '\u3000', '\u2028', '\u200b', '\f', '\v'];
const PUNCTUATION = ['.', ',', '!', '?', ':', ';', '...', '—', '“', '”', '(', ')', '{', '}', '/', '//', '=>', '#', '```', '。', '，', '।'];
const WORDS = ['the', 'The', 'THE', 'token', 'counter', 'Parley', 'naïve', 'über', 'hello', 'HTTPServer', 'camelCase', 'snake_case', 'ﬁnance'];
const CONTRACTIONS = ["'s", "'S", "'t", "'re", "'RE", "'ve", "'Ve", "'m", "'ll", "'LL", "'d", "'D", "'x", "’s"];
const SPECIAL = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|im_sep|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|endofprompt|>', '<|'];
const ODD = ['\uD800', '\uDFFF', '\uDC00\uD800', '\uD83D', '\uDE00x', '\uFEFF', '\uFEFFusing', '\uFEFF\uFEFF', '\uFEFF名', '\uFEFFង', '\u0000', '\uFFFD', '\u200d', '🏽', '👨‍👩‍👧', '🇫🇷🇩🇪', 'é', 'é'];

function codePoint(): string {
  const [from, to] = pick(SCRIPTS);
  return String.fromCodePoint(from + below(to - from + 1));
}

function number(): string {
  return pick([String(below(10 ** (1 + below(12)))), `${below(1000)}.${below(100)}`, '١٢٣٤٥', '１２３', `-${below(99)}`, `${below(9)},${below(999)}`]);
}

function fragment(): string {
  switch (below(9)) {
    case 0: return repeat(1 + below(12), codePoint);
    case 1: return pick(WHITESPACE);
    case 2: return pick(PUNCTUATION);
    case 3: return pick(WORDS) + (random() < 0.5 ? pick(CONTRACTIONS) : '');
    case 4: return number();
    case 5: return pick(SPECIAL);
    case 6: return pick(ODD);
    case 7: return String.fromCharCode(below(0x10000));
    default: return ` ${pick(WORDS)}`;
  }
}

const corpus = Array.from({ length: 4000 }, () => repeat(1 + below(30), fragment));

describe('the token counter', () => {
  it('counts as gpt-tokenizer does on thousands of mixed texts', () => {
    const differing = corpus.filter((text) => countBpe(text) !== expected(text));
    expect(differing.map((text) => JSON.stringify(text))).toEqual([]);
    expect(corpus.filter((text) => countTokens(text) !== expected(text))).toEqual([]);
  });

  it('counts single characters of every plane, lone surrogates and byte-order marks alike', () => {
    const characters = Array.from({ length: 3000 }, (_, i) => (i < 256 ? String.fromCharCode(i) : random() < 0.8 ? String.fromCharCode(below(0x10000)) : String.fromCodePoint(below(0x110000))));
    const texts = [...characters, ...characters.map((c) => `${c}${c}${c}`), ...characters.map((c) => ` ${c}a`), ...characters.map((c) => `\uFEFF${c}`)];
    expect(texts.filter((text) => countBpe(text) !== expected(text)).map((text) => JSON.stringify(text))).toEqual([]);
  });

  it("special tokens' text is counted as characters, not refused", () => {
    for (const token of SPECIAL) {
      expect(countTokens(`say ${token} twice ${token}`)).toBe(expected(`say ${token} twice ${token}`));
      expect(countTokens(token)).toBeGreaterThan(1);
    }
  });

  it('counts long pieces (runs of spaces, letters, Han, base64) exactly', () => {
    const base64 = Buffer.from(Array.from({ length: 900 }, () => below(256))).toString('base64');
    const texts = [
      ' '.repeat(3000), `${'\n'.repeat(700)}x`, `x${'\t '.repeat(400)}y`, 'a'.repeat(1500), 'ab'.repeat(600),
      repeat(600, () => String.fromCodePoint(0x4e00 + below(0x500))), '中'.repeat(500), repeat(300, () => pick(['🙂', '👍🏽', '🇯🇵'])),
      base64, `${'\uFEFF'.repeat(200)}word`, repeat(400, () => pick(['\uD800', 'a', '\uFEFF'])), repeat(500, codePoint),
    ];
    for (const text of texts) expect(countBpe(text), JSON.stringify(text.slice(0, 40))).toBe(expected(text));
  });

  it('counts very long runs in slices, as it always has', () => {
    // The counter's contract for runs past 256 characters: each 256-character slice counted on its own.
    const sliced = (run: string) => {
      let total = 0;
      for (let start = 0; start < run.length; ) {
        let end = Math.min(start + 256, run.length);
        if (end < run.length && /[\uD800-\uDBFF]/.test(run[end - 1]!)) end -= 1;
        total += expected(run.slice(start, end));
        start = end;
      }
      return total;
    };
    const run = repeat(20_000, () => String.fromCodePoint(0x4e00 + below(0x500)));
    const emoji = repeat(5_000, () => pick(['🙂', '👍🏽', 'x']));
    expect(countTokens(run)).toBe(sliced(run));
    expect(countTokens(`Intro text. ${run} outro`)).toBe(expected('Intro text. ') + sliced(run) + expected(' outro'));
    expect(countTokens(emoji)).toBe(sliced(emoji));
    expect(countTokens(` ${' '.repeat(6_000)}\n`)).toBe(expected(` ${' '.repeat(6_000)}\n`));
  });

  it('within a limit: the same count when it is within, a number past the limit when it is not', () => {
    const run = repeat(20_000, () => String.fromCodePoint(0x4e00 + below(0x500)));
    const texts = [...corpus.slice(0, 200), run, `Intro text. ${run} outro ${run}`, 'plain words '.repeat(3_000)];
    for (const text of texts) {
      const full = countTokens(text);
      for (const limit of [0, 1, Math.floor(full / 2), full - 1, full, full + 1, 8_000]) {
        const within = countTokensWithin(text, limit);
        if (full <= limit) expect(within).toBe(full);
        else expect(within, `limit ${limit}, full ${full}`).toBeGreaterThan(limit);
        expect(within).toBeLessThanOrEqual(full);
      }
    }
  });

  it('counts the same text the same way every time', () => {
    const texts = corpus.slice(0, 500);
    const first = texts.map(countBpe);
    expect(texts.map(countBpe)).toEqual(first);
    expect(texts.map(countBpe)).toEqual(texts.map(expected));
  });
});

describe('the token table', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-tokens-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.message);

  function rankOf(table: ReturnType<typeof loadTable>, text: string): number {
    const bytes = new TextEncoder().encode(text);
    return lookup(table, bytes, 0, bytes.length);
  }

  it('is built from gpt-tokenizer with a warning when missing, then read from the file written', async () => {
    const url = pathToFileURL(join(dir, 'generated', 'o200k.bin'));
    process.on('warning', onWarning);
    try {
      const built = loadTable(url);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.some((message) => message.includes('npm run build'))).toBe(true);
      expect(existsSync(url)).toBe(true);
      warnings.length = 0;
      const read = loadTable(url);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
      for (const text of [' hello', 'Parley', ' 中国', '!', '\n\n', ' the']) {
        const tokens = encode(text);
        expect(rankOf(built, text)).toBe(tokens.length === 1 ? tokens[0] : -1);
        expect(rankOf(read, text)).toBe(rankOf(built, text));
      }
      // The same bytes as the build writes.
      expect(readFileSync(url).equals(readFileSync(new URL('../../generated/o200k.bin', import.meta.url)))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('is rebuilt when the file is damaged', () => {
    const url = pathToFileURL(join(dir, 'damaged.bin'));
    writeFileSync(url, 'not a token table');
    expect(rankOf(loadTable(url), ' hello')).toBe(encode(' hello')[0]);
    expect(readFileSync(url).length).toBeGreaterThan(1_000_000);
  });
});
