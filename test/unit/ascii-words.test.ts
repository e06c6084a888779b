// The ASCII word scanner must find exactly the words ICU finds (Intl.Segmenter), or a knowledge
// document and a question would be cut into different terms and stop matching.
import { describe, expect, it } from 'vitest';
import { asciiWords, asciiWordsApply } from '../../src/features/knowledge/ascii-words.js';
import { searchTerms } from '../../src/features/knowledge/search-text.js';
import { seededRandom } from '../helpers/random.js';

const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' });
/** What Intl.Segmenter calls words, keeping those with a letter or digit (search terms need one). */
const icuWords = (text: string) =>
  Array.from(segmenter.segment(text))
    .filter((part) => part.isWordLike && /[A-Za-z0-9]/.test(part.segment))
    .map((part) => part.segment);

// Weighted towards the characters ICU's word rules treat specially between letters and digits.
const SPECIAL = "_.',;:-@/#$%&*+=!?\"()[]{}<>|\\^`~ \t\n\r\f\v\u0000\u001f\u007f";
const ALPHABET = `aBzQ09735${SPECIAL}${SPECIAL}`;

describe('asciiWords', () => {
  it('finds the words Intl.Segmenter finds, on 50,000 random ASCII strings', () => {
    const random = seededRandom(20261123);
    for (let n = 0; n < 50_000; n++) {
      const length = 1 + Math.floor(random() * 24);
      let text = '';
      for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(random() * ALPHABET.length)];
      expect(asciiWords(text), JSON.stringify(text)).toEqual(icuWords(text));
    }
  });

  it('finds them in every printable and control character next to letters and digits', () => {
    for (let code = 0; code < 128; code++) {
      const c = String.fromCharCode(code);
      for (const text of [`a${c}b`, `1${c}2`, `a${c}1`, `1${c}a`, `${c}${c}a${c}`, `_${c}_`, `a${c}${c}b`]) {
        expect(asciiWords(text), JSON.stringify(text)).toEqual(icuWords(text));
      }
    }
  });

  it('keeps the shapes people type: contractions, decimals, thousands, dotted names and underscores', () => {
    const text = "Don't pay $1,299.50 on e.g. example.com or my_file_v2.txt at 10:30; it's 3.14";
    expect(asciiWords(text)).toEqual(icuWords(text));
    expect(asciiWords(text)).toEqual(['Don\'t', 'pay', '1,299.50', 'on', 'e.g', 'example.com', 'or', 'my_file_v2', 'txt', 'at', '10', '30', 'it\'s', '3.14']);
  });

  it('applies to ASCII text within one segmenting window only', () => {
    expect(asciiWordsApply('plain text', 2048)).toBe(true);
    expect(asciiWordsApply('café', 2048)).toBe(false);
    expect(asciiWordsApply('x'.repeat(2049), 2048)).toBe(false);
  });

  it('gives search terms equal to the segmenter path for text past the window', () => {
    // Past 2048 characters searchTerms segments with ICU; the same words must come out of both paths.
    const sentence = "Our shop opens at 9.30 on weekdays, and it's closed on Sundays. ";
    const short = sentence.repeat(5);
    const long = sentence.repeat(40);
    expect(long.length).toBeGreaterThan(2048);
    expect(searchTerms(long).slice(0, searchTerms(short).length)).toEqual(searchTerms(short));
  });
});
