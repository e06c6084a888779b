import { isUuid } from '../../lib/ids.js';

const MAX_BASE = 50;

/** "Acme Support!" → "acme-support"; names with no Latin letters or digits fall back to "chatbot". */
export function slugify(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
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
