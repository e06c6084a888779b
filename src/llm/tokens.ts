// The one token counter of the code base (prompt budgets, usage estimates, knowledge chunks):
// o200k (GPT-4o family). Other models' tokenizers differ by a few percent, which the budget absorbs.
// Counts equal gpt-tokenizer's, from a compact table (src/llm/bpe.ts) loaded on the first count.
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
 * a 1 MiB request's worth of space-less text held the event loop for a quarter of a second).
 */
export function countTokensWithin(text: string, limit: number): number {
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

const cache = new Map<string, number>();
const CACHE_ENTRIES = 1000;

/** For text repeated turn after turn (a chatbot's system part): counted once, remembered. */
export function countTokensCached(text: string): number {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const tokens = countTokens(text);
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
  cache.set(text, tokens);
  return tokens;
}
