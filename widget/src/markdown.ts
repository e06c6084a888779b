// The Markdown subset of chat bubbles, parsed into a tree and never into HTML: render.ts turns the
// tree into DOM nodes, so no input can become markup, and a link only carries an href that
// safeHref let through. Replies are re-parsed on every streamed frame, so every scan here is
// linear in the input (no backtracking regex, no rescanning): a hostile or runaway message costs
// the page milliseconds. Unsupported syntax (HTML, tables, quotes, reference links) is plain text.

import { parseInline, type Inline } from './markdown-inline.js';

export { safeHref, type Inline } from './markdown-inline.js';

export type Block =
  | { t: 'p'; c: Inline[] }
  | { t: 'pre'; v: string; lang?: string }
  | { t: 'ul'; items: Inline[][] }
  | { t: 'ol'; start: number; items: Inline[][] };

/** Longer input is cut to this many UTF-16 units and the rest dropped: it bounds the work per message. */
export const MAX_SOURCE = 100_000;

// ---- Blocks: one pass over the lines ----------------------------------------------------------

interface Fence { ch: string; len: number; indent: number; lang?: string }
interface List { ordered: boolean; start: number; items: string[] }

const LIST_ITEM = /^(?:([-*+])|(\d{1,9})[.)])(?:[ \t]|$)/;
const HEADING = /^#{1,6}(?:[ \t]|$)/;
const LANG = /^[\w+#.-]{1,32}$/;

/**
 * How much of `source` parseMarkdown formats: MAX_SOURCE units, one less where the cut would
 * halve a character. What follows is for a view to show as plain text (messages-view.ts).
 */
export function formattedLength(source: string): number {
  if (source.length <= MAX_SOURCE) return source.length;
  return /[\uD800-\uDBFF]/.test(source[MAX_SOURCE - 1]!) ? MAX_SOURCE - 1 : MAX_SOURCE;
}

export function parseMarkdown(source: string): Block[] {
  return parseGrowing(source).blocks;
}

/**
 * Where a later parse of the same text, grown at its end, can take up: the blocks of the text's
 * first `prefix.length` units, after which the parser held nothing open (no paragraph, list or
 * code block), and the inline parse of each list item read since.
 */
export interface Resume {
  prefix: string;
  blocks: Block[];
  items: Map<string, Inline[]>;
}

/**
 * parseMarkdown for a text that grows at its end, as a streamed reply does. Given the last call's
 * `resume`, what is before its prefix is not read again when the text still starts with it, and
 * list items whose text did not change keep their parsed inlines (the very objects, so a view can
 * tell them by identity): re-parsing all of a long reply every frame held a phone's page for long
 * tasks, and a 700-item list for 28 s at 4× CPU slowdown. The blocks are those parseMarkdown gives.
 */
export function parseGrowing(source: string, resume?: Resume): { blocks: Block[]; resume: Resume } {
  const text = formatted(source);
  const from = resume && text.startsWith(resume.prefix) ? resume : undefined;
  const start = from?.prefix.length ?? 0;
  const lines = (start ? text.slice(start) : text).split('\n');
  const out: Block[] = from ? from.blocks.slice() : [];
  const items = new Map<string, Inline[]>();
  const inlineOfItem = (item: string) => {
    const c = items.get(item) ?? from?.items.get(item) ?? parseInline(item);
    items.set(item, c);
    return c;
  };
  let para: string[] = [];
  let list: List | null = null;
  let blank = false;
  let clean = { offset: start, count: out.length };
  const end = () => {
    if (para.length) out.push({ t: 'p', c: parseInline(para.join('\n')) });
    const parsed = list?.items.map(inlineOfItem) ?? [];
    if (list) out.push(list.ordered ? { t: 'ol', start: list.start, items: parsed } : { t: 'ul', items: parsed });
    para = [];
    list = null;
  };
  for (let i = 0, at = start; i < lines.length; i++) {
    const line = lines[i]!;
    at += line.length + 1;
    const lead = /^[ \t]*/.exec(line)![0].length;
    const body = line.slice(lead).trimEnd();
    const indent = line.slice(0, lead).replace(/\t/g, '    ').length;
    const fence = body && openFence(body, lead);
    const title = body && indent < 4 && !fence ? heading(body) : null;
    if (!body || fence || title !== null) {
      if (body || !list) end(); // a blank line ends a paragraph; a list may go on after it
      blank = !body;
      if (fence) {
        const close = readFence(lines, i + 1, fence, out);
        for (i++; i <= close && i < lines.length; i++) at += lines[i]!.length + 1;
        i--;
      } else if (title) out.push({ t: 'p', c: [{ t: 'strong', c: parseInline(title) }] });
      // A whole line (a line break follows it) with nothing open: no later text changes what is before.
      if (!list && i < lines.length - 1) clean = { offset: at, count: out.length };
      continue;
    }
    const m = indent < 4 ? LIST_ITEM.exec(body) : null;
    const item = m && { ordered: !m[1], start: m[2] ? Number(m[2]) : 1, rest: body.slice(m[0].length).trim() };
    if (list) {
      // One level only: a new item starts near the margin; a deeper marker is text of the current
      // item, as is a line right after it (lazy continuation) or an indented one after a blank.
      const isItem = item && indent < 2;
      if (isItem && item.ordered === list.ordered) list.items.push(item.rest);
      else if (!isItem && (!blank || indent >= 2)) list.items[list.items.length - 1] += (blank ? '\n\n' : '\n') + body;
      else end();
    }
    blank = false;
    if (list) continue;
    // Mid-paragraph, only a non-empty bullet or a list starting at 1 begins a list (as in
    // CommonMark), so a wrapped line starting "2019. " stays text.
    if (item && (!para.length || (item.rest && (!item.ordered || item.start === 1)))) {
      end();
      list = { ordered: item.ordered, start: item.start, items: [item.rest] };
    } else para.push(body);
  }
  end();
  return { blocks: out, resume: { prefix: text.slice(0, clean.offset), blocks: out.slice(0, clean.count), items } };
}

/** What of `source` is formatted (formattedLength), its line ends written \n. */
function formatted(source: string): string {
  let text = source.length > MAX_SOURCE ? source.slice(0, MAX_SOURCE) : source;
  if (/[\uD800-\uDBFF]$/.test(text)) text = text.slice(0, -1); // the cut split a surrogate pair
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
}

/** A heading's text, or null when the line is not one. */
function heading(body: string): string | null {
  const m = HEADING.exec(body);
  if (!m) return null;
  const rest = body.slice(m[0].length);
  let end = rest.length;
  while (end > 0 && rest[end - 1] === '#') end--;
  // A closing run of # counts only when it stands apart ("# C#" keeps its #).
  return end === 0 || rest[end - 1] === ' ' || rest[end - 1] === '\t' ? rest.slice(0, end).trim() : rest.trim();
}

// Any indentation opens a fence: there are no indented code blocks here, and a fence indented
// under a list item is meant as code.
function openFence(body: string, indent: number): Fence | null {
  const ch = body[0]!;
  let len = 1;
  while (body[len] === ch) len++;
  const info = body.slice(len).trim();
  if ((ch !== '`' && ch !== '~') || len < 3 || (ch === '`' && info.includes('`'))) return null;
  const word = info.split(/[ \t]/, 1)[0]!;
  return LANG.test(word) ? { ch, len, indent, lang: word } : { ch, len, indent };
}

/** Reads code lines from `i` up to the closing fence (or the end); returns the closing line's index. */
function readFence(lines: string[], i: number, f: Fence, out: Block[]): number {
  const code: string[] = [];
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    const s = line.trim();
    if (s.length >= f.len && !s.replaceAll(f.ch, '')) break;
    code.push(line.slice(Math.min(f.indent, /^[ \t]*/.exec(line)![0].length)));
  }
  const v = code.join('\n');
  out.push(f.lang ? { t: 'pre', v, lang: f.lang } : { t: 'pre', v });
  return i;
}
