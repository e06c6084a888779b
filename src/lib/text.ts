/**
 * Small text helpers that must behave the same for every script: anything user-facing
 * counts and cuts grapheme clusters, because code units split emoji and Indic conjuncts
 * and code points split ZWJ sequences, flags and skin tones.
 */

type Granularity = 'grapheme' | 'word' | 'sentence';
const segmenters: Partial<Record<Granularity, Intl.Segmenter>> = {};

/**
 * Made on first use: each loads its rules from ICU's data, 1 MiB of the process's memory for the
 * three, which an idle server does not need (docs/decisions.md, "Idle RSS at five seconds").
 */
const segmenter = (granularity: Granularity): Intl.Segmenter => (segmenters[granularity] ??= new Intl.Segmenter(undefined, { granularity }));

export interface Segment {
  segment: string;
  /** Offset in the whole text, in UTF-16 code units. */
  index: number;
  isWordLike: boolean;
}

/**
 * Node 20's V8 walks Intl.Segmenter's segments in time quadratic in the input's length
 * (a 110 000-character Chinese text takes 20 s; later V8 versions fixed it), so text is segmented a
 * window at a time. Each window's last segment may run past its end and is segmented
 * again with the next window; a single segment filling a whole window (a base64 blob as
 * one "word", a very long sentence) is cut at its last word or grapheme boundary instead.
 */
/** Characters segmented at a time (see segment()). */
export const SEGMENT_WINDOW = 2048;

export function* segment(text: string, granularity: Granularity, window = SEGMENT_WINDOW): Generator<Segment> {
  let start = 0;
  while (start < text.length) {
    const end = sliceEnd(text, start + window);
    const parts = Array.from(segmenter(granularity).segment(text.slice(start, end)));
    const keep = end === text.length ? parts.length : parts.length - 1;
    for (const part of parts.slice(0, keep)) {
      yield { segment: part.segment, index: start + part.index, isWordLike: part.isWordLike ?? false };
    }
    if (keep > 0) {
      start += end === text.length ? end - start : parts[keep]!.index;
      continue;
    }
    const only = parts[0]!;
    const cut = cutAtLastBoundary(only.segment, FINER[granularity]);
    yield { segment: cut, index: start, isWordLike: only.isWordLike ?? false };
    start += cut.length;
  }
}

const FINER: Record<Granularity, Granularity | null> = { sentence: 'word', word: 'grapheme', grapheme: null };
const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/** Where a slice of `text` ending at `at` (at most its length) ends without cutting a surrogate pair in two. */
export function sliceEnd(text: string, at: number): number {
  const end = Math.min(text.length, at);
  return end < text.length && isHighSurrogate(text.charCodeAt(end - 1)) ? end - 1 : end;
}

/** `text` up to its last inner boundary, at the coarsest of the given or finer granularities that has one. */
function cutAtLastBoundary(text: string, granularity: Granularity | null): string {
  if (granularity === null) return text;
  const parts = Array.from(segmenter(granularity).segment(text));
  const last = parts[parts.length - 1];
  return parts.length > 1 && last ? text.slice(0, last.index) : cutAtLastBoundary(text, FINER[granularity]);
}

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

// With the u flag a well-formed pair is one code point, so only a lone surrogate matches.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Why a string cannot be stored as the text it is, or null: PostgreSQL refuses NUL in text (the
 * query would fail, a 500), and a lone surrogate is stored as U+FFFD, so it would differ from
 * what was sent and match nothing stored.
 */
export function unstorableText(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(s)) return 'must be valid Unicode text (a lone surrogate was sent)';
  return null;
}

export function isBlank(s: string): boolean {
  return BLANK.test(s);
}

export function splitGraphemes(s: string): string[] {
  return Array.from(segment(s, 'grapheme'), (part) => part.segment);
}

/**
 * Blank graphemes are dropped whole, not code point by code point: stripping a trailing
 * U+FE0F or ZWJ on its own would turn "❤️" into a text-style heart.
 */
function dropTrailingBlank(parts: string[]): string[] {
  let end = parts.length;
  while (end > 0 && isBlank(parts[end - 1]!)) end--;
  return parts.slice(0, end);
}

/** A title is at most this many grapheme clusters, the closing "…" included (§6, §12). */
export const MAX_TITLE_GRAPHEMES = 60;
/**
 * The longest grapheme a title keeps whole. The longest emoji sequences fit (a kiss with two skin
 * tones is 15 UTF-16 code units, a subdivision flag 14, a family 11); an "e" with thousands of
 * combining marks is also one grapheme, and is cut to this rather than stored whole.
 */
export const MAX_TITLE_GRAPHEME_UNITS = 16;
/** Follows from the two above: 60 family emoji (660 code units) fit, an absurd title does not. */
export const MAX_TITLE_UNITS = MAX_TITLE_GRAPHEMES * MAX_TITLE_GRAPHEME_UNITS;

const MARKS_ONLY = /^[\p{M}\u200d]+$/u;

/** The grapheme's first code points, within MAX_TITLE_GRAPHEME_UNITS, with no joiner left dangling. */
function clipGrapheme(grapheme: string): string {
  let clipped = '';
  for (const point of grapheme) {
    if (clipped.length + point.length > MAX_TITLE_GRAPHEME_UNITS) break;
    clipped += point;
  }
  return clipped.replace(/\u200d+$/u, '');
}

/**
 * The title a conversation gets from its first user message: its first non-blank line,
 * whitespace collapsed, at most `max` grapheme clusters including the closing "…" when cut,
 * each at most MAX_TITLE_GRAPHEME_UNITS code units.
 * Reads only as far into the line as the title needs, so a huge message costs no more.
 */
const PLAIN_LINE = /^[\x20-\x7e]*$/;

export function conversationTitle(content: string, max = MAX_TITLE_GRAPHEMES): string | null {
  if (!Number.isInteger(max) || max < 2) throw new RangeError(`max must be an integer ≥ 2, got ${max}`);
  // Most first messages are one line of printable ASCII, where every character is its own cluster.
  if (PLAIN_LINE.test(content)) {
    const line = content.replace(/ {2,}/g, ' ').trim();
    if (line === '') return null;
    return line.length <= max ? line : `${line.slice(0, max - 1).trimEnd()}…`;
  }
  const line = content.split(LINE_BREAK).find((candidate) => !isBlank(candidate));
  if (line === undefined) return null;
  const kept: string[] = [];
  let cut = false;
  let clipped = false;
  // A title needs its first few dozen clusters: a window of 2,048 segmented a long first line's start for nothing.
  for (const { segment: grapheme } of segment(line.replace(WHITESPACE_RUN, ' '), 'grapheme', 256)) {
    if (kept.length === 0 && isBlank(grapheme)) continue;
    // A grapheme longer than a segmentation window arrives in pieces: the rest of a clipped one goes too.
    if (clipped && MARKS_ONLY.test(grapheme)) continue;
    clipped = grapheme.length > MAX_TITLE_GRAPHEME_UNITS;
    if (kept.length < max) kept.push(clipped ? clipGrapheme(grapheme) : grapheme);
    else if (!isBlank(grapheme)) {
      cut = true;
      break;
    }
  }
  if (!cut) return dropTrailingBlank(kept).join('');
  return `${dropTrailingBlank(kept.slice(0, max - 1)).join('')}…`;
}

/**
 * A title given by the user, under the rule of titles taken from a message: whitespace collapsed,
 * blank graphemes trimmed from both ends; refused when that leaves nothing (it would look empty),
 * more than MAX_TITLE_GRAPHEMES graphemes, or a grapheme over MAX_TITLE_GRAPHEME_UNITS code units.
 */
export function explicitTitle(title: string): { title: string } | { refused: string } {
  const parts = splitGraphemes(title.replace(WHITESPACE_RUN, ' '));
  let start = 0;
  while (start < parts.length && isBlank(parts[start]!)) start++;
  const kept = dropTrailingBlank(parts.slice(start));
  if (kept.length === 0) return { refused: 'must not be empty' };
  if (kept.length > MAX_TITLE_GRAPHEMES) return { refused: `must be at most ${MAX_TITLE_GRAPHEMES} characters` };
  if (kept.some((grapheme) => grapheme.length > MAX_TITLE_GRAPHEME_UNITS)) return { refused: 'has a character made of too many parts' };
  return { title: kept.join('') };
}
