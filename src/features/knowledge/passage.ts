// How a knowledge passage is introduced to the model: its number and the title of the document it
// comes from, on one line before its text, so the model can say which document an answer came from
// and tell one document's passages from another's.
import { countTokensCached } from '../../llm/tokens.js';

/**
 * Titles stored before uploads refused line breaks (knowledge.service.ts) may hold them: on a line
 * of its own, such a title could pass for the passage's text or the next passage's heading.
 */
const LINE_BREAKING = /[\p{Cc}\p{Zl}\p{Zp}\s]+/gu;

const titleText = (title: string | null | undefined) => (title ?? '').replace(LINE_BREAKING, ' ').trim();

/** The passage's heading line: `[2] Document: Returns policy`, or `[2]` for a passage without a title. */
export function passageHeading(index: number, title: string | null | undefined): string {
  const shown = titleText(title);
  return shown ? `[${index}] Document: ${shown}` : `[${index}]`;
}

/** What a passage's title adds to its cost in the prompt, in tokens (its number is the prompt's frame). */
export function titleTokens(title: string | null | undefined): number {
  const shown = titleText(title);
  return shown ? countTokensCached(` Document: ${shown}`) : 0;
}
