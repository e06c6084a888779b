/**
 * Language-neutral full-text terms. PostgreSQL's own parser depends on the database locale
 * and keeps a run of Chinese as one token (電路板 is never found inside 我們生產電路板), so
 * Parley builds lexemes here and hands PostgreSQL literal tsvector/tsquery values, which
 * the casts store as given instead of parsing them again.
 */

import { SEGMENT_WINDOW, segment, sliceEnd } from '../../lib/text.js';
import { asciiWords, asciiWordsApply } from './ascii-words.js';
import { foldLetters, termOf } from './letter-folding.js';
import { STOP_WORDS } from './stop-words.js';

/** Scripts written without spaces between words, where dictionaries disagree on word edges. */
const CJK = /[\p{Script_Extensions=Han}\p{Script_Extensions=Hiragana}\p{Script_Extensions=Katakana}\p{Script_Extensions=Hangul}]/u;
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;
const LETTER_DIGIT_OR_MARK = /[\p{L}\p{N}\p{M}]/u;
/** Typographic apostrophes would otherwise keep "it’s" and "it's" apart. */
const CURLY_APOSTROPHE = /[\u2018\u2019]/g;
/**
 * Characters nobody sees that sit inside words: soft hyphens (text pasted from web pages),
 * direction marks (beside Hebrew and Arabic), joiners and non-joiners (Persian, Bengali), word
 * joiners, byte order marks. Word segmentation keeps them in the word, which then never matched
 * the word written plainly. Not U+200B, which separates words in Thai, Khmer and Lao.
 * migrations/0028 takes the same ones out of the terms stored before.
 */
const INVISIBLE = /[\u00AD\u061C\u180E\u200C-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]/g;
/** Longer "words" are hashes, URLs and base64 that nobody types into a question. */
const MAX_TERM_LENGTH = 100;
// PostgreSQL's tsvector limits: past them it clamps positions silently or rejects the value.
const MAX_POSITION = 16383;
const MAX_POSITIONS_PER_LEXEME = 256;
const MAX_LEXEME_BYTES = 2046;
/** PostgreSQL rejects tsvectors whose lexemes add up to 1 MB; stay clear with room for positions. */
const MAX_LITERAL_BYTES = 1_000_000;
const MAX_QUERY_TERMS = 64;
const QUERY_SEGMENT_WINDOW = 512;
/**
 * A message's knowledge query reads its beginning only: this many UTF-16 code units of it, then
 * at most as many characters of what NFKC makes of them (one character may become 18, "ﷺ"), so a
 * turn's query costs the same whatever the message (MAX_MESSAGE_CHARS allows up to a million).
 * 64 distinct terms are rarely further in; the builtin responder matches a question on its first
 * 2,000 characters too.
 */
const QUERY_READ_CHARS = 2_048;

interface Term {
  term: string;
  position: number;
}

const isCjk = (char: string) => CJK.test(char) && LETTER_DIGIT_OR_MARK.test(char);

/**
 * Bigrams over every run of CJK characters, including across word edges: ICU's dictionary
 * may cut the same phrase differently in a document and in a query (or after an ICU
 * upgrade), but any two-character sub-phrase of the document is always one of its bigrams.
 * A bigram equal to the word itself is skipped so two-character words are not counted twice.
 */
function cjkBigrams(word: string, previous: string | undefined): string[] {
  const bigrams: string[] = [];
  let last = previous;
  for (const char of word) {
    if (!isCjk(char)) {
      last = undefined;
      continue;
    }
    if (last !== undefined && last + char !== word) bigrams.push(last + char);
    last = char;
  }
  return bigrams;
}

function lastChar(s: string): string | undefined {
  const chars = Array.from(s);
  return chars[chars.length - 1];
}

function keep(term: string): boolean {
  return LETTER_OR_DIGIT.test(term) && Array.from(term).length <= MAX_TERM_LENGTH;
}

/** What joins the parts of one word as segmentation keeps it: `max_tokens`, `config.yaml`, `app:start`. */
const JOINED = /[._:]/;
const JOINERS = /[._:]+/;
/** Digits alone, in the scripts migrations/0033 names as well: a version's or a price's pieces. */
const DIGITS_ONLY = /^[0-9\u0660-\u0669\u06F0-\u06F9\u0966-\u096F]+$/u;

/**
 * The parts of a joined word as terms of their own, beside the whole: a question in plain words
 * ("max tokens", "the yaml file") then finds the document that writes `max_tokens` in
 * `config.yaml`, and a question written `request_timeout` the one that says "request timeout".
 * Parts of one character, of digits alone or with an apostrophe are left out ("U.S.A" and "3.14"
 * stay whole only), as are those of a word too long to be a term itself. migrations/0033 adds the
 * same parts, by the same rules, to the terms stored before.
 */
function joinedParts(word: string, whole: string): string[] {
  if (!JOINED.test(word) || Array.from(whole).length > MAX_TERM_LENGTH) return [];
  return word
    .split(JOINERS)
    .filter((part) => !part.includes("'"))
    .map(termOf)
    .filter((part) => part !== whole && Array.from(part).length > 1 && !DIGITS_ONLY.test(part));
}

/**
 * Terms with 1-based word positions; bigrams share the position of the word they end in. Made as
 * they are read, so a caller that needs only the first few (a question's) stops early: all the
 * terms of a 32,000-character message of Chinese took 200 ms of the event loop.
 */
function* positionedTerms(text: string, window = SEGMENT_WINDOW): Generator<Term> {
  const normalized = foldLetters(text.normalize('NFKC').replace(CURLY_APOSTROPHE, "'").replace(INVISIBLE, '').toLowerCase());
  if (asciiWordsApply(normalized, SEGMENT_WINDOW)) return yield* asciiTerms(normalized);
  let position = 0;
  let previousCjk: string | undefined;
  for (const { segment: word, isWordLike } of segment(normalized, 'word', window)) {
    if (!isWordLike) {
      previousCjk = undefined;
      continue;
    }
    const whole = termOf(word);
    const found = [whole, ...joinedParts(word, whole), ...cjkBigrams(word, previousCjk)].filter(keep);
    const tail = lastChar(word);
    previousCjk = tail !== undefined && isCjk(tail) ? tail : undefined;
    if (found.length === 0) continue;
    position++;
    for (const term of found) yield { term, position };
  }
}

/** positionedTerms for ASCII text: no CJK bigrams, every segment asciiWords gives has a letter or digit. */
function* asciiTerms(normalized: string): Generator<Term> {
  let position = 0;
  for (const found of asciiWords(normalized)) {
    const word = termOf(found);
    if (word.length > MAX_TERM_LENGTH) continue;
    yield { term: word, position: ++position };
    for (const part of joinedParts(found, word)) yield { term: part, position };
  }
}

/** Lexemes in order of appearance, with repeats, as stored in and searched for in the index. */
export function searchTerms(text: string): string[] {
  return Array.from(positionedTerms(text), ({ term }) => term);
}

/** Quoting for both tsvector and tsquery literals: quotes doubled, backslashes escaped. */
function quote(term: string): string {
  return `'${term.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Lexeme → its distinct positions, capped the way PostgreSQL would otherwise reject or clamp them. */
function positionsByLexeme(text: string): Map<string, number[]> {
  const lexemes = new Map<string, number[]>();
  for (const { term, position } of positionedTerms(text)) {
    if (byteLength(term) >= MAX_LEXEME_BYTES) continue;
    const capped = Math.min(position, MAX_POSITION);
    const positions = lexemes.get(term) ?? [];
    if (positions.length === 0) lexemes.set(term, positions);
    if (positions.length < MAX_POSITIONS_PER_LEXEME && positions[positions.length - 1] !== capped) positions.push(capped);
  }
  return lexemes;
}

/**
 * A tsvector literal such as `'term':1,5 'other':2`, to be cast with `::tsvector`.
 * Empty text gives '', which PostgreSQL accepts as the empty tsvector.
 */
export function toTsvectorLiteral(text: string): string {
  const entries: string[] = [];
  let bytes = 0;
  for (const [lexeme, positions] of positionsByLexeme(text)) {
    const entry = `${quote(lexeme)}:${positions.join(',')}`;
    const size = byteLength(entry) + 1;
    // Lexemes come in order of first appearance, so a huge document keeps its beginning.
    if (bytes + size > MAX_LITERAL_BYTES) break;
    entries.push(entry);
    bytes += size;
  }
  return entries.join(' ');
}

/**
 * The beginning of a message that its query reads, normalised, and whether that is less than all
 * of it. Normalised once more by positionedTerms, which costs little on text already in NFKC.
 */
function queryText(text: string): { read: string; cut: boolean } {
  const end = sliceEnd(text, QUERY_READ_CHARS);
  const normalized = text.slice(0, end).normalize('NFKC');
  return { read: normalized.slice(0, QUERY_READ_CHARS), cut: end < text.length || normalized.length > QUERY_READ_CHARS };
}

/**
 * The text's distinct terms, each a single-term tsquery literal (`'a'`) for the knowledge search
 * (knowledge.repo.ts), which ORs them; null when the text has no terms. OR, because ts_rank then
 * orders documents by how many terms they share, and a question rarely repeats a document's words.
 */
export function toQueryTerms(text: string): string[] | null {
  const terms = questionTerms(text);
  return terms === null ? null : terms.map(quote);
}

/**
 * A question's distinct terms as the knowledge search reads them, unquoted; null when it has none.
 * Small words ("the", "is", "on") are left out when there are others: every chunk of prose
 * shares them, so ranked by them any long chunk outranks the one the question is about.
 */
export function questionTerms(text: string): string[] | null {
  const { read, cut } = queryText(text);
  // The question's small words only when it has no others (stop-words.ts).
  const distinct = new Set<string>();
  const small = new Set<string>();
  const add = (terms: Term[]) => {
    for (const { term } of terms) {
      if (distinct.size >= MAX_QUERY_TERMS || byteLength(term) >= MAX_LEXEME_BYTES) continue;
      if (!STOP_WORDS.has(term)) distinct.add(term);
      else if (small.size < MAX_QUERY_TERMS) small.add(term);
    }
  };
  // The last word's terms wait for the next word: where the text was cut, it may be a word's beginning.
  let word: Term[] = [];
  // Segmented a little at a time: 64 terms are a few dozen characters of Chinese, a few hundred of most scripts.
  for (const term of positionedTerms(read, QUERY_SEGMENT_WINDOW)) {
    if (word.length > 0 && word[0]!.position !== term.position) {
      add(word);
      word = [];
      if (distinct.size === MAX_QUERY_TERMS) break;
    }
    word.push(term);
  }
  if (!cut) add(word);
  const terms = distinct.size > 0 ? distinct : small;
  return terms.size === 0 ? null : Array.from(terms);
}

