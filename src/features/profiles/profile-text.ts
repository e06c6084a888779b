// The profile as the model reads it (§6.2): labelled lines, only the fields the owner filled in.
// prompt.ts fences the result as data; the offline responder answers from the same facts.
import type { ProfileFact } from '../../llm/types.js';
import { PROFILE_FIELDS, type ProfileFields } from './profiles.schemas.js';

/** The non-empty fields, in display order, each with its label. */
export function profileFacts(profile: ProfileFields | null): ProfileFact[] {
  if (!profile) return [];
  const facts: ProfileFact[] = [];
  for (const { key, label } of PROFILE_FIELDS) {
    const text = profile[key].trim();
    if (text) facts.push({ key, label, text });
  }
  return facts;
}

/** "Label: text" per fact, or null when there is nothing to say (no fenced section at all then). */
export function renderProfile(facts: readonly ProfileFact[]): string | null {
  if (facts.length === 0) return null;
  return facts.map((fact) => `${fact.label}: ${fact.text}`).join('\n');
}
