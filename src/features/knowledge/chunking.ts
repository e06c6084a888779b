import { countTokens } from '../../llm/tokens.js';
import { segment, splitGraphemes } from '../../lib/text.js';

export interface Chunk {
  content: string;
  tokens: number;
}

export interface ChunkOptions {
  /** Upper bound per chunk, heading context and overlap included. Default 400. */
  maxTokens?: number;
  /** Text repeated from the end of the previous chunk when a section is cut. Default 0. */
  overlapTokens?: number;
}

// The same counter as the turn's budget, so a chunk's stored count is what a turn spends on it.
const tokenCount = countTokens;
/** English averages about 4 characters a token and CJK about 1; few texts exceed 10. */
const MAX_CHARS_PER_TOKEN = 10;

const segments = (text: string, granularity: 'sentence' | 'word') => Array.from(segment(text, granularity), (s) => s.segment);

/**
 * Split points from most to least preferred; each returns pieces that concatenate back to
 * the input, so packing them never loses or reorders text. ICU's sentence rules already
 * end sentences at 。！？ and the danda ।, and its grapheme rules keep conjuncts and emoji whole.
 */
const SPLITTERS: Array<(text: string) => string[]> = [
  (text) => text.split(/(?<=\n[ \t]*\n)/),
  (text) => text.split(/(?<=\n)/),
  (text) => segments(text, 'sentence'),
  (text) => segments(text, 'word'),
  splitGraphemes,
];
const SENTENCES = 2;
const WORDS = 3;

interface Section {
  /** The heading line and everything up to the next heading, with line breaks. */
  text: string;
  heading: string | null;
  body: string;
  /** Enclosing headings, outermost first, ending with this section's own heading. */
  trail: string[];
}

const HEADING = /^ {0,3}(#{1,6})(?:[ \t\n]|$)/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** ATX headings outside fenced code (where "# comment" is code, not structure). */
function splitSections(content: string): Section[] {
  const sections: Section[] = [{ text: '', heading: null, body: '', trail: [] }];
  const open: Array<{ level: number; line: string }> = [];
  let fence: string | null = null;
  for (const line of content.split(/(?<=\n)/)) {
    const marker = FENCE.exec(line)?.[1];
    if (marker && (fence === null || (marker[0] === fence[0] && marker.length >= fence.length))) {
      fence = fence === null ? marker : null;
    }
    const level = fence === null ? HEADING.exec(line)?.[1]?.length : undefined;
    if (level === undefined) {
      const current = sections[sections.length - 1]!;
      current.text += line;
      if (current.heading !== null) current.body += line;
      continue;
    }
    while (open.length > 0 && open[open.length - 1]!.level >= level) open.pop();
    const heading = line.trim();
    open.push({ level, line: heading });
    sections.push({ text: line, heading, body: '', trail: open.map((h) => h.line) });
  }
  return sections.filter((section) => section.text.trim() !== '');
}

/** Where the text of the chunk being filled goes, and how it becomes a chunk. */
class ChunkWriter {
  readonly chunks: Chunk[] = [];
  private head = '';
  private body = '';
  /** The body holds only text carried over from the previous chunk. */
  private carried = false;

  constructor(
    private readonly maxTokens: number,
    private readonly overlapTokens: number,
  ) {}

  private render(head: string, body: string): string {
    return [head, body.trim()].filter((part) => part !== '').join('\n\n');
  }

  fits(text: string, head = this.head, body = this.body): boolean {
    const candidate = this.render(head, body + text);
    // BPE is quadratic in the length of one pre-token (a line of CJK, a base64 blob): a long
    // section must be turned down without being tokenized. Judging by length can only make
    // an unusually dense chunk smaller, never larger.
    if (candidate.length > this.maxTokens * MAX_CHARS_PER_TOKEN) return false;
    return tokenCount(candidate) <= this.maxTokens;
  }

  hasText(): boolean {
    return !this.carried && this.body.trim() !== '';
  }

  /** The heading lines the chunk holds when it holds nothing else (sections with no text of their own), or null. */
  headingsOnly(): string | null {
    if (this.head !== '' || !this.hasText()) return null;
    const lines = this.body.split('\n').map((line) => line.trim()).filter((line) => line !== '');
    return lines.every((line) => HEADING.test(line)) ? lines.join('\n') : null;
  }

  /** Starts the chunk again under `head`, which carries whatever it held. */
  restart(head: string): void {
    this.head = head;
    this.body = '';
    this.carried = false;
  }

  append(text: string): void {
    this.body += text;
    if (text.trim() !== '') this.carried = false;
  }

  flush(head = ''): void {
    const content = this.render(this.head, this.body);
    if (this.hasText() && content !== '') this.chunks.push({ content, tokens: tokenCount(content) });
    this.head = head;
    this.body = '';
    this.carried = false;
  }

  /** Starts the next chunk of a cut section, dropping the overlap when it alone would force `next` apart. */
  continueSection(head: string, next: string): void {
    const tail = overlapTail(this.body, this.overlapTokens);
    this.flush(head);
    if (tail === '' || (!this.fits(next, head, tail) && this.fits(next, head, ''))) return;
    this.body = tail;
    this.carried = true;
  }
}

/**
 * The end of `body` within `budget` tokens, starting at a sentence or else a word; never
 * all of it. Its raw end is kept so that it runs on into the next piece as in the document.
 */
function overlapTail(body: string, budget: number): string {
  if (budget <= 0 || body.trim() === '') return '';
  for (const level of [SENTENCES, WORDS]) {
    const pieces = SPLITTERS[level]!(body);
    let tail = '';
    for (let i = pieces.length - 1; i > 0; i--) {
      const longer = pieces[i] + tail;
      if (tokenCount(longer.trim()) > budget) break;
      tail = longer;
    }
    if (tail.trim() !== '') return tail.trimStart();
  }
  return '';
}

/** How many of pieces[from…] fit in the chunk together: galloping, then binary search. */
function fittingCount(writer: ChunkWriter, pieces: string[], from: number): number {
  const fit = (n: number) => writer.fits(pieces.slice(from, from + n).join(''));
  if (!fit(1)) return 0;
  let good = 1;
  let bad = pieces.length - from + 1;
  while (good * 2 < bad) {
    if (!fit(good * 2)) {
      bad = good * 2;
      break;
    }
    good *= 2;
  }
  while (bad - good > 1) {
    const middle = Math.floor((good + bad) / 2);
    if (fit(middle)) good = middle;
    else bad = middle;
  }
  return good;
}

/** Fills chunks with pieces; a piece too big even for a fresh chunk is split at the next level. */
function place(writer: ChunkWriter, pieces: string[], level: number, continuationHead: string): void {
  let i = 0;
  while (i < pieces.length) {
    const piece = pieces[i]!;
    const count = fittingCount(writer, pieces, i);
    if (count > 0) {
      writer.append(pieces.slice(i, i + count).join(''));
      i += count;
      continue;
    }
    if (writer.hasText()) {
      writer.continueSection(continuationHead, piece);
      if (writer.fits(piece)) continue;
    }
    // Levels that would leave the piece whole are skipped rather than tried again.
    let finer = level;
    while (finer < SPLITTERS.length && SPLITTERS[finer]!(piece).length < 2) finer++;
    // A single grapheme bigger than the whole budget is kept whole, over the limit.
    if (finer >= SPLITTERS.length) writer.append(piece);
    else place(writer, SPLITTERS[finer]!(piece), finer + 1, continuationHead);
    i++;
  }
}

/** Heading lines repeated atop later chunks of a cut section, outermost dropped first to stay small. */
function headingContext(lines: string[], budget: number): string {
  for (let start = 0; start < lines.length; start++) {
    const context = lines.slice(start).join('\n');
    if (tokenCount(context) <= budget) return context;
  }
  return '';
}

function placeSection(writer: ChunkWriter, section: Section, maxTokens: number): void {
  if (writer.fits(section.text)) return writer.append(section.text);
  const above = writer.headingsOnly();
  const cut = !writer.fits(section.text, '', '');
  if (writer.hasText() && !(above !== null && cut)) {
    writer.flush();
    if (!cut) return writer.append(section.text);
  }
  const budget = Math.floor(maxTokens / 4);
  const continuationHead = headingContext(section.trail, budget);
  const ownHeading = section.heading !== null && tokenCount(section.heading) <= budget;
  const head = ownHeading ? section.heading! : '';
  // Headings with nothing under them ("# Japan" before "## Returns") would be a chunk that says
  // nothing, and the section's first chunk would not say what it is about: they lead it instead.
  const lead = above === null ? head : [above, head].filter((part) => part !== '').join('\n');
  if (above !== null && tokenCount(lead) <= budget) writer.restart(lead);
  else writer.flush(head);
  place(writer, SPLITTERS[0]!(ownHeading ? section.body : section.text), 1, continuationHead);
  // The rest of a cut section does not share a chunk with the next section's start.
  writer.flush();
}

/**
 * Splits a text or Markdown document into chunks of at most `maxTokens` tokens: sections
 * that fit are kept whole (and small neighbours share a chunk); a longer section is cut at
 * paragraphs, then lines, sentences, words and finally graphemes, and each later part
 * starts with its heading line(s) so it still says what it is about.
 */
export function chunkDocument(content: string, options: ChunkOptions = {}): Chunk[] {
  const { maxTokens = 400, overlapTokens = 0 } = options;
  if (!Number.isInteger(maxTokens) || maxTokens < 8) throw new RangeError(`maxTokens must be an integer ≥ 8, got ${maxTokens}`);
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens > maxTokens / 2) {
    throw new RangeError(`overlapTokens must be an integer from 0 to maxTokens/2, got ${overlapTokens}`);
  }
  const writer = new ChunkWriter(maxTokens, overlapTokens);
  const sections = splitSections(content.replace(/\r\n?/g, '\n'));
  const texts = sections.map((section) => section.text);
  for (let i = 0; i < sections.length; ) {
    // Whole sections that fit are taken together: counted one by one, each count re-read the
    // chunk so far, and a document of one-line sections cost the worker over 20 times what prose does.
    const count = fittingCount(writer, texts, i);
    if (count > 0) writer.append(texts.slice(i, i + count).join(''));
    else placeSection(writer, sections[i]!, maxTokens);
    i += Math.max(count, 1);
  }
  writer.flush();
  return writer.chunks;
}
