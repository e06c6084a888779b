/**
 * A knowledge chunk too large for the share of the prompt left to it, cut to its passage about the
 * question. Chunks are stored at up to 400 tokens (knowledge.service.ts) and knowledge may take a
 * quarter of CONTEXT_TOKEN_BUDGET: under a budget of about 1,600 tokens (an owner's small model) no
 * whole chunk of an ordinary document fits, and a model shown none answers without the knowledge.
 */
import { segment, splitGraphemes } from '../../lib/text.js';
import { countTokens } from '../../llm/tokens.js';
import { searchTerms } from './search-text.js';

/**
 * Words with the space before them, as the tokenizer reads " word": counted apart from it, each
 * space was a token of its own, and an excerpt of words came out at half the size it could be.
 */
function withSpaceBefore(words: readonly string[]): string[] {
  const pieces: string[] = [];
  let space = '';
  for (const word of words) {
    if (word.trim() === '') space += word;
    else {
      pieces.push(space + word);
      space = '';
    }
  }
  if (space !== '') pieces.push(space);
  return pieces;
}

/** Coarsest first, as the chunker cuts; each gives pieces that join back to the text. */
const LEVELS: Array<(text: string) => string[]> = [
  (text) => text.split(/(?<=\n)/),
  (text) => Array.from(segment(text, 'sentence'), (s) => s.segment),
  (text) => withSpaceBefore(Array.from(segment(text, 'word'), (s) => s.segment)),
  splitGraphemes,
];

export interface Excerpt {
  text: string;
  tokens: number;
}

/** The first piece sharing the most of `words` (the first piece when none shares any). */
function bestPiece(pieces: readonly string[], words: ReadonlySet<string>): number {
  let best = 0;
  let bestScore = 0;
  pieces.forEach((piece, i) => {
    const score = new Set(searchTerms(piece).filter((term) => words.has(term))).size;
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  });
  return best;
}

/**
 * Pieces[best] with its neighbours while they fit, the one after first: an answer tends to follow
 * the line that names what it is about (a heading, a question in a FAQ). Pieces counted apart add
 * up to at least what they count together but for a token or two at a seam, so the joined text is
 * counted once more and trimmed from its farther end.
 */
function grow(pieces: readonly string[], tokens: readonly number[], best: number, maxTokens: number): Excerpt | null {
  let [from, to, spent] = [best, best + 1, tokens[best]!];
  for (let more = true; more; ) {
    more = false;
    if (to < pieces.length && spent + tokens[to]! <= maxTokens) [spent, to, more] = [spent + tokens[to]!, to + 1, true];
    if (from > 0 && spent + tokens[from - 1]! <= maxTokens) [spent, from, more] = [spent + tokens[from - 1]!, from - 1, true];
  }
  for (;;) {
    const text = pieces.slice(from, to).join('').trim();
    const counted = countTokens(text);
    if (counted <= maxTokens) return text === '' ? null : { text, tokens: counted };
    if (to - from === 1) return null;
    if (to - 1 - best >= best - from) to--;
    else from++;
  }
}

/**
 * `chunk` cut to at most `maxTokens`: its line sharing the most of the question's `words`, with the
 * lines around it while they fit; a line too large is cut the same way at its sentences, then
 * words, then graphemes. Null when not even one grapheme fits.
 */
export function excerpt(chunk: string, words: ReadonlySet<string>, maxTokens: number): Excerpt | null {
  let text = chunk;
  for (const split of LEVELS) {
    const pieces = split(text);
    if (pieces.length === 0) return null;
    const best = bestPiece(pieces, words);
    const tokens = pieces.map((piece) => countTokens(piece));
    if (tokens[best]! > maxTokens) {
      text = pieces[best]!;
      continue;
    }
    return grow(pieces, tokens, best, maxTokens);
  }
  return null;
}
