// One tokenizer for budgets and usage estimates: o200k (GPT-4o family). Other models'
// tokenizers differ by a few percent, which the budget absorbs.
import { countTokens as count } from 'gpt-tokenizer';

/** Per-message overhead of chat formatting (role markers), as OpenAI documents it. */
export const MESSAGE_OVERHEAD_TOKENS = 3;

export function countTokens(text: string): number {
  return text.length === 0 ? 0 : count(text);
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
