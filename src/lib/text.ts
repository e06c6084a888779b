/**
 * Small text helpers that must behave the same for every script: anything user-facing
 * counts and cuts grapheme clusters, because code units split emoji and Indic conjuncts
 * and code points split ZWJ sequences, flags and skin tones.
 */

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Default-ignorable code points (zero-width space/joiners, BOM, word joiner, bidi marks,
 * Hangul fillers, variation selectors) render as nothing, so a message made only of them
 * and whitespace looks empty to the user.
 */
const BLANK = /^[\p{White_Space}\p{Default_Ignorable_Code_Point}]*$/u;
const WHITESPACE_RUN = /\p{White_Space}+/gu;
const LINE_BREAK = /\r\n|[\n\v\f\r\u0085\u2028\u2029]/u;

export function codePointLength(s: string): number {
  let length = 0;
  for (const _ of s) length++;
  return length;
}

export function isBlank(s: string): boolean {
  return BLANK.test(s);
}

export function splitGraphemes(s: string): string[] {
  return Array.from(graphemes.segment(s), (part) => part.segment);
}

/**
 * Trims whole grapheme clusters, not code points: stripping a trailing U+FE0F or ZWJ on its
 * own would turn "❤️" into a text-style heart, whereas a cluster that is blank as a whole
 * (a space, a lone zero-width space) carries nothing.
 */
function trimBlankGraphemes(parts: string[]): string[] {
  let start = 0;
  let end = parts.length;
  while (start < end && isBlank(parts[start]!)) start++;
  while (end > start && isBlank(parts[end - 1]!)) end--;
  return parts.slice(start, end);
}

/**
 * The title a conversation gets from its first user message: its first non-blank line,
 * at most `max` grapheme clusters including the closing "…" when cut.
 */
export function conversationTitle(content: string, max = 60): string | null {
  if (!Number.isInteger(max) || max < 2) throw new RangeError(`max must be an integer ≥ 2, got ${max}`);
  const line = content.split(LINE_BREAK).find((candidate) => !isBlank(candidate));
  if (line === undefined) return null;
  const parts = trimBlankGraphemes(splitGraphemes(line.replace(WHITESPACE_RUN, ' ')));
  if (parts.length <= max) return parts.join('');
  return `${trimBlankGraphemes(parts.slice(0, max - 1)).join('')}…`;
}
