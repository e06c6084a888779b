// The profile as the model reads it (§6.2): labelled lines, only the fields the owner filled in.
// prompt.ts fences the result as data; the offline responder answers from the same facts.
import { isBlank } from '../../lib/text.js';
import type { ProfileFact } from '../../llm/types.js';
import { PROFILE_FIELDS, type ProfileFields } from './profiles.schemas.js';

/**
 * A field as it is stored and shown: trimmed, and empty when only spaces or characters that render
 * as nothing are left (zero-width space and joiners, BOM, variation selectors, bidi marks). Such a
 * name showed as empty on the public page and was sent to the model as 'Name: ' while it counted as
 * written, as one of spaces never did. Invisible characters among visible ones are kept: a joiner
 * inside an emoji, a bidi mark that orders a right-to-left name.
 */
export function fieldText(value: string): string {
  const text = value.trim();
  return isBlank(text) ? '' : text;
}

/** Every field as fieldText keeps it: a profile saved before it may hold one of only invisible characters. */
export function shownFields<T extends ProfileFields>(profile: T): T {
  const shown = { ...profile };
  for (const { key } of PROFILE_FIELDS) shown[key] = fieldText(profile[key]) as T[typeof key];
  return shown;
}

/** The non-empty fields, in display order, each with its label. */
export function profileFacts(profile: ProfileFields | null): ProfileFact[] {
  if (!profile) return [];
  const facts: ProfileFact[] = [];
  for (const { key, label } of PROFILE_FIELDS) {
    const text = fieldText(profile[key]);
    if (text) facts.push({ key, label, text });
  }
  return facts;
}

/** "Label: text" per fact, or null when there is nothing to say (no fenced section at all then). */
export function renderProfile(facts: readonly ProfileFact[]): string | null {
  if (facts.length === 0) return null;
  return facts.map((fact) => `${fact.label}: ${fact.text}`).join('\n');
}
