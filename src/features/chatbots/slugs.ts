import { isUuid } from '../../lib/ids.js';

const MAX_BASE = 50;

/**
 * Latin letters that are no base letter plus a mark, so NFKD leaves them whole, written as their
 * usual ASCII spellings (lower case: the name is lowered first). Left as they were, they read as
 * punctuation: "Søren's Smørrebrød" was `s-ren-s-sm-rrebr-d`.
 */
const LATIN_SPELLINGS: Record<string, string> = {
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  ø: 'o',
  ł: 'l',
  đ: 'd',
  ð: 'd',
  þ: 'th',
  ı: 'i',
  ħ: 'h',
  ŧ: 't',
  ŋ: 'ng',
  ĸ: 'k',
};
const LATIN_SPELLED = new RegExp(`[${Object.keys(LATIN_SPELLINGS).join('')}]`, 'g');

/** "Acme Support!" → "acme-support"; names with no Latin letters or digits fall back to "chatbot". */
export function slugify(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(LATIN_SPELLED, (letter) => LATIN_SPELLINGS[letter]!)
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_BASE)
    .replace(/-+$/g, '');
  if (!base) return 'chatbot';
  // A slug shaped like an id would be read as an id by the public routes (§7).
  return isUuid(base) ? `chatbot-${base}`.slice(0, MAX_BASE).replace(/-+$/g, '') : base;
}

/** The first free slug: base, then base-2, base-3… given the taken ones that share the base. */
export function nextFreeSlug(base: string, taken: readonly string[]): string {
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base}-${n}`;
    if (!used.has(candidate)) return candidate;
  }
}
