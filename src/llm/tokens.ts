// The one token counter of the code base (prompt budgets, usage estimates, knowledge chunks):
// o200k (GPT-4o family). Other models' tokenizers differ by a few percent, which the budget absorbs.
// Counts equal gpt-tokenizer's, from a compact table (src/llm/bpe.ts) loaded on the first count.
import { createHash } from 'node:crypto';
import { countBpe } from './bpe.js';

/** Per-message overhead of chat formatting (role markers), as OpenAI documents it. */
export const MESSAGE_OVERHEAD_TOKENS = 3;

// BPE cost grows with the square of a run's length (a long stretch of Chinese with no
// punctuation, a base64 blob): such runs are counted in slices, which keeps the count within
// a token or two of the exact one and the time linear.
const HAS_LONG_RUN = /\S{257}/u;
const LONG_RUN = /\S{257,}/gu;
const SLICE = 256;

/**
 * Text is text: "<|endoftext|>" or "<|im_start|>" in a message, a system prompt, a document
 * or a model's reply is counted as the characters it is (countBpe knows no special tokens).
 */
const count = countBpe;

export function countTokens(text: string): number {
  return countTokensWithin(text, Number.POSITIVE_INFINITY);
}

/**
 * countTokens(text) when that is at most `limit`; otherwise some number above `limit`, found
 * without counting the rest (a client's history message older than the budget can hold: counting
 * a 1 MiB request's worth of space-less text held the event loop for a quarter of a second, and
 * 900 KB of plain words 45 ms). Long text is counted a piece at a time, cut before a space that
 * sits between two other characters (no o200k token spans such a cut; text without one is cut
 * anywhere, a token or two off).
 */
export function countTokensWithin(text: string, limit: number): number {
  if (text.length <= PIECE || limit === Number.POSITIVE_INFINITY) return countRuns(text, limit);
  let total = 0;
  for (let start = 0; start < text.length && total <= limit; ) {
    let end = Math.min(start + PIECE, text.length);
    if (end < text.length) end = cutBefore(text, start, end);
    total += countRuns(text.slice(start, end), limit - total);
    start = end;
  }
  return total;
}

const PIECE = 16_384;

/** The last space in (start, end] between two other characters; `end` itself when there is none. */
function cutBefore(text: string, start: number, end: number): number {
  for (let space = text.lastIndexOf(' ', end); space > start; space = text.lastIndexOf(' ', space - 1)) {
    if (/\S/u.test(text[space - 1]!) && /\S/u.test(text[space + 1] ?? '')) return space;
  }
  return end;
}

function countRuns(text: string, limit: number): number {
  if (text.length === 0) return 0;
  if (!HAS_LONG_RUN.test(text)) return count(text);
  let total = 0;
  let last = 0;
  for (const match of text.matchAll(LONG_RUN)) {
    total += count(text.slice(last, match.index));
    const run = match[0];
    for (let start = 0; start < run.length && total <= limit; ) {
      let end = Math.min(start + SLICE, run.length);
      // Never cut a surrogate pair in two.
      if (end < run.length && /[\uD800-\uDBFF]/.test(run[end - 1]!)) end -= 1;
      total += count(run.slice(start, end));
      start = end;
    }
    if (total > limit) return total;
    last = match.index + run.length;
  }
  return total + (last < text.length ? count(text.slice(last)) : 0);
}

/**
 * Text this long or longer is remembered by its SHA-256, not by itself: a key is kept until 1,000
 * others push it out, and 150 OpenAI calls with a different ~900 KB `system` message each held
 * 128 MB of keys. Hashing costs a small part of counting (2 ms against 45 ms for 900 KB).
 */
const HASHED_FROM_CHARS = 1024;
const CACHE_ENTRIES = 1000;
// Apart, so that no short text can be written to equal a long text's digest.
const byText = new Map<string, number>();
const byDigest = new Map<string, number>();

/** For text repeated turn after turn (a chatbot's system part): counted once, remembered. */
export function countTokensCached(text: string): number {
  const long = text.length >= HASHED_FROM_CHARS;
  const cache = long ? byDigest : byText;
  const key = long ? createHash('sha256').update(text).digest('base64') : text;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const tokens = countTokens(text);
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
  cache.set(key, tokens);
  return tokens;
}
