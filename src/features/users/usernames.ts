// Sign-up by email alone (§3.1): the username is made from the email's local part and made
// unique as chatbot slugs are (dana, dana-2, dana-3…), always valid for the username schema.
import { nextFreeSlug } from '../chatbots/slugs.js';

export const USERNAME_MIN = 3;
export const USERNAME_MAX = 32;
export const USERNAME_PATTERN = '^[A-Za-z0-9_.-]+$';

// Leaves room for "-<n>" within USERNAME_MAX, so every candidate starts with the whole base
// and one lookup of "base" and "base-…" finds every name a candidate could clash with.
const MAX_BASE = 24;
const FALLBACK = 'user';

/** "Dana.Smith+news@example.com" → "dana.smith-news"; a local part with nothing usable → "user". */
export function usernameBase(email: string): string {
  const localPart = email.slice(0, Math.max(0, email.lastIndexOf('@')));
  const base = localPart
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^[-_.]+|[-_.]+$/g, '')
    .slice(0, MAX_BASE)
    .replace(/[-_.]+$/g, '');
  return base || FALLBACK;
}

/**
 * The first free name among base, base-2, base-3…, given the taken (lowercased) names that share
 * the base. A base shorter than USERNAME_MIN is not a valid name itself, so it starts at base-2.
 */
export function nextFreeUsername(base: string, taken: readonly string[]): string {
  return nextFreeSlug(base, base.length < USERNAME_MIN ? [base, ...taken] : taken);
}
