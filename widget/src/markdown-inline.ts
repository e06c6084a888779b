// The inline half of the chat bubbles' Markdown (markdown.ts has the blocks): emphasis, code spans,
// links and autolinks, resolved in one linear pass as markdown.ts's header describes.

export type Inline =
  | { t: 'text'; v: string }
  | { t: 'strong' | 'em'; c: Inline[] }
  | { t: 'code'; v: string }
  | { t: 'link'; href: string; c: Inline[] }
  | { t: 'br' };

// Deeper emphasis is flattened to its text, so that a renderer walking the tree recursively does
// not run out of stack on `*a *a *a …` thousands of levels deep.
const MAX_NEST = 16;

// What a browser or a reader would not see in a URL, removed before its scheme is judged, so
// `java\tscript:`, `\u0000javascript:` and `java\u200Bscript:` are all plainly `javascript:`.
const INVISIBLE = /[\s\p{Cc}\p{Cf}]+/gu;

/** An absolute http(s) or mailto URL, normalised by the URL parser; null for anything else. */
export function safeHref(raw: string): string | null {
  const cleaned = raw.replace(INVISIBLE, '');
  // Entity and percent obfuscations of a scheme (`&#106;avascript:`) are never decoded, so they
  // fail here, as do relative and protocol-relative (`//evil`) references, before the URL parser
  // would throw for them (thousands of throws would cost a long message real time).
  if (!/^(?:https?|mailto):/i.test(cleaned)) return null;
  try {
    const url = new URL(cleaned); // no base URL: only absolute URLs parse
    return ['https:', 'http:', 'mailto:'].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

// ---- Inlines: a linked list of nodes with a delimiter stack and a bracket stack, as in
// CommonMark's reference parsers, so emphasis and links resolve without rescanning ------------

// `h` is the nesting height of `v` (capped at MAX_NEST); `fixed` marks a bracket, which text must
// not merge into; `dl` marks a delimiter run, whose text is what is left of the run.
interface Node { v: string | Inline; h: number; fixed?: boolean; dl?: Delim; prev: Node | null; next: Node | null }

// `pos` is the order of creation: floors compare positions, which stay valid as delimiters go.
interface Delim {
  ch: string; n: number; orig: number; open: boolean; close: boolean; pos: number;
  node: Node; prev: Delim | null; next: Delim | null;
}

// `epoch` counts the links formed before this bracket opened: a later link makes it inactive,
// because links do not nest.
interface Bracket { node: Node; image: boolean; epoch: number; delim: Delim | null; prev: Bracket | null }

interface Ctx {
  s: string; tail: Node; delims: Delim | null; brackets: Bracket | null; links: number; count: number;
  parens?: Parens; ticks?: Map<number, { at: number[]; i: number }>;
}

const STOP = new Set('\n\\`*_[]!<hH');
const ASCII_PUNCT = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export function parseInline(s: string): Inline[] {
  const head: Node = { v: '', h: 0, fixed: true, prev: null, next: null };
  const x: Ctx = { s, tail: head, delims: null, brackets: null, links: 0, count: 0 };
  for (let i = 0; i < s.length; ) {
    const c = s[i]!;
    if (c === '\n') i = add(x, { t: 'br' }) && i + 1;
    else if (c === '\\') i = escape(x, i);
    else if (c === '`') i = codeSpan(x, i);
    else if (c === '*' || c === '_') i = delimRun(x, i);
    else if (c === '[' || (c === '!' && s[i + 1] === '[')) i = openBracket(x, i, c === '!');
    else if (c === ']') i = closeBracket(x, i);
    else if (c === '<') i = autolink(x, i);
    else if ((c === 'h' || c === 'H') && /^https?:\/\//i.test(s.slice(i, i + 8))) i = bareUrl(x, i);
    else {
      let j = i + 1;
      while (j < s.length && !STOP.has(s[j]!)) j++;
      i = text(x, s.slice(i, j)) && j;
    }
  }
  processEmphasis(x, null);
  return collect(head.next, null).c;
}

function add(x: Ctx, v: string | Inline, h = 0, fixed = false, after = x.tail): Node {
  const node: Node = { v, h, fixed, prev: after, next: after.next };
  if (after.next) after.next.prev = node;
  else x.tail = node;
  return (after.next = node);
}

/** Appends text, merged into plain text before it; true, so callers can `return text(…) && next`. */
function text(x: Ctx, v: string): true {
  if (!x.tail.fixed && !x.tail.dl && typeof x.tail.v === 'string') x.tail.v += v;
  else add(x, v);
  return true;
}

function escape(x: Ctx, i: number): number {
  const c = x.s[i + 1] ?? '';
  if (c === '\n') return i + 1; // a backslash before a line end: the line break alone
  return ASCII_PUNCT.includes(c || 'a') ? text(x, c) && i + 2 : text(x, '\\') && i + 1;
}

/** Pushes `n` merging adjacent text, so trees come out as a reader would write them. */
function push(out: Inline[], n: Inline): void {
  const last = out[out.length - 1];
  if (n.t === 'text' && last?.t === 'text') out[out.length - 1] = { t: 'text', v: last.v + n.v };
  else if (n.t !== 'text' || n.v) out.push(n);
}

/** The inlines of the nodes from `from` up to `to` (exclusive), and their greatest height. */
function collect(from: Node | null, to: Node | null): { c: Inline[]; h: number } {
  const c: Inline[] = [];
  let h = 0;
  for (let n = from; n && n !== to; n = n.next) {
    const v = n.dl ? n.dl.ch.repeat(n.dl.n) : n.v;
    push(c, typeof v === 'string' ? { t: 'text', v } : v);
    h = Math.max(h, n.h);
  }
  return { c, h };
}

function plain(c: Inline[]): string {
  return c.map((n) => (n.t === 'br' ? ' ' : 'v' in n ? n.v : 'c' in n ? plain(n.c) : '')).join('');
}

/** Puts wrapped inlines after `after`, flattened to text first when they would nest too deep. */
function wrap(x: Ctx, after: Node, got: { c: Inline[]; h: number }, make: (c: Inline[]) => Inline): void {
  const flat = got.h >= MAX_NEST;
  add(x, make(flat ? [{ t: 'text', v: plain(got.c) }] : got.c), flat ? 1 : got.h + 1, false, after);
}

// ---- Code spans: the closer is the next run of exactly as many backticks. Runs are indexed once
// per text, each length with a cursor that only moves forward (as the scan does), so unmatched
// openers (`` ` `` ``` `` ``` …) never rescan the rest of the text.

function codeSpan(x: Ctx, i: number): number {
  const s = x.s;
  let j = i;
  while (s[j] === '`') j++;
  const close = nextTickRun(x, j - i, j);
  if (close < 0) return text(x, s.slice(i, j)) && j;
  let v = s.slice(j, close).replace(/\n/g, ' ');
  if (v.length > 1 && v[0] === ' ' && v[v.length - 1] === ' ' && /[^ ]/.test(v)) v = v.slice(1, -1);
  add(x, { t: 'code', v });
  return close + j - i;
}

function nextTickRun(x: Ctx, len: number, from: number): number {
  if (!x.ticks) {
    x.ticks = new Map();
    for (let i = x.s.indexOf('`'), j = i; i >= 0; i = x.s.indexOf('`', j)) {
      for (j = i; x.s[j] === '`'; ) j++;
      let runs = x.ticks.get(j - i);
      if (!runs) x.ticks.set(j - i, (runs = { at: [], i: 0 }));
      runs.at.push(i);
    }
  }
  const runs = x.ticks.get(len);
  while (runs && runs.i < runs.at.length && runs.at[runs.i]! < from) runs.i++;
  return runs?.at[runs.i] ?? -1;
}

// ---- Emphasis: CommonMark's delimiter runs, flanking rules and rule of 3 ------------------------

const WS = /\s/;
const PUNCT = /[\p{P}\p{S}]/u;

function delimRun(x: Ctx, i: number): number {
  const s = x.s;
  const ch = s[i]!;
  let j = i;
  while (s[j] === ch) j++;
  const low = i > 1 && s.charCodeAt(i - 1) >= 0xdc00 && s.charCodeAt(i - 1) <= 0xdfff; // astral before
  const before = i ? s.slice(low ? i - 2 : i - 1, i) : ' ';
  const after = j < s.length ? String.fromCodePoint(s.codePointAt(j)!) : ' ';
  const bp = PUNCT.test(before);
  const ap = PUNCT.test(after);
  const left = !WS.test(after) && (!ap || bp || WS.test(before));
  const right = !WS.test(before) && (!bp || ap || WS.test(after));
  // `_` neither opens nor closes inside a word: snake_case_names stay text.
  const open = left && (ch === '*' || !right || bp);
  const close = right && (ch === '*' || !left || ap);
  if (!open && !close) return text(x, s.slice(i, j)) && j;
  const d: Delim = { ch, n: j - i, orig: j - i, open, close, pos: x.count++, node: add(x, ''), prev: x.delims, next: null };
  d.node.dl = d;
  if (x.delims) x.delims.next = d;
  x.delims = d;
  return j;
}

// Pairs closers with openers above `bottom`, then drops those delimiters. A failed search raises
// a floor for its kind of closer, so no delimiter is passed over more than a few times and the
// whole is linear, as in commonmark.js.
function processEmphasis(x: Ctx, bottom: Delim | null): void {
  const lo = bottom ? bottom.pos : -1;
  const floor = new Array<number>(12).fill(lo);
  let closer: Delim | null = null;
  for (let d = x.delims; d && d.pos > lo; d = d.prev) closer = d;
  while (closer) {
    const cl: Delim = closer;
    const kind = (cl.ch === '*' ? 0 : 6) + (cl.open ? 3 : 0) + (cl.orig % 3);
    let op = cl.close ? cl.prev : null;
    while (op && op.pos > floor[kind]! && !pairs(op, cl)) op = op.prev;
    if (op && op.pos > floor[kind]!) closer = match(x, op, cl);
    else {
      closer = cl.next;
      if (!cl.close) continue;
      floor[kind] = cl.prev ? cl.prev.pos : lo;
      if (!cl.open) dropDelim(x, cl);
    }
  }
  x.delims = bottom;
  if (bottom) bottom.next = null;
}

function pairs(op: Delim, cl: Delim): boolean {
  const odd = (cl.open || op.close) && cl.orig % 3 !== 0 && (op.orig + cl.orig) % 3 === 0;
  return op.ch === cl.ch && op.open && !odd;
}

/** Wraps what lies between a matched pair; returns the closer to look at next. */
function match(x: Ctx, op: Delim, cl: Delim): Delim | null {
  const use = op.n > 1 && cl.n > 1 ? 2 : 1;
  op.n -= use;
  cl.n -= use;
  const got = collect(op.node.next, cl.node);
  op.node.next = cl.node;
  cl.node.prev = op.node;
  wrap(x, op.node, got, (c) => ({ t: use > 1 ? 'strong' : 'em', c }));
  op.next = cl; // the delimiters in between are inside the wrapper now
  cl.prev = op;
  if (!op.n) dropDelim(x, op, true);
  if (cl.n) return cl;
  dropDelim(x, cl, true);
  return cl.next;
}

/** Takes `d` off the stack and, once it is used up, its node off the list. */
function dropDelim(x: Ctx, d: Delim, usedUp = false): void {
  if (d.prev) d.prev.next = d.next;
  if (d.next) d.next.prev = d.prev;
  else x.delims = d.prev;
  const n = d.node;
  if (!usedUp) return;
  n.prev!.next = n.next;
  if (n.next) n.next.prev = n.prev;
  else x.tail = n.prev!;
}

// ---- Links, images, autolinks -------------------------------------------------------------------

function openBracket(x: Ctx, i: number, image: boolean): number {
  const node = add(x, image ? '![' : '[', 0, true);
  x.brackets = { node, image, epoch: x.links, delim: x.delims, prev: x.brackets };
  return i + (image ? 2 : 1);
}

function closeBracket(x: Ctx, i: number): number {
  const op = x.brackets;
  if (op) x.brackets = op.prev;
  const tail = op && x.s[i + 1] === '(' && (op.image || op.epoch === x.links) ? linkTail(x, i + 1) : null;
  if (!op || !tail) return text(x, ']') && i + 1;
  processEmphasis(x, op.delim);
  const got = collect(op.node.next, null);
  x.tail = op.node.prev!;
  x.tail.next = null;
  const href = safeHref(tail.dest);
  if (op.image) {
    // An image is shown as a link to it, named by its alt text (or its address).
    const alt = plain(got.c);
    return linkOrText(x, href, alt || href || '', alt) && tail.end;
  }
  x.links++;
  const c = unlink(got.c); // images and autolinks inside a link become their text
  if (href) wrap(x, x.tail, { c, h: got.h }, (k) => ({ t: 'link', href, c: k }));
  else for (const n of c) add(x, n, got.h); // an unsafe link is its text only
  return tail.end;
}

function unlink(c: Inline[]): Inline[] {
  const out: Inline[] = [];
  for (const n of c) {
    if (n.t === 'link') unlink(n.c).forEach((k) => push(out, k));
    else push(out, n.t === 'strong' || n.t === 'em' ? { t: n.t, c: unlink(n.c) } : n);
  }
  return out;
}

// Parentheses are matched once per text: where each `(` closes, the nesting depth before each
// index and the next whitespace from each index. With them a destination is judged in constant
// time, so `[a](` repeated 25 000 times is not 25 000 scans to the end of the text.
interface Parens { close: Int32Array; depth: Int32Array; ws: Int32Array }

function matchParens(s: string): Parens {
  const n = s.length;
  const p: Parens = { close: new Int32Array(n).fill(-1), depth: new Int32Array(n + 1), ws: new Int32Array(n + 1) };
  const open: number[] = [];
  for (let i = 0, d = 0; i <= n; i++) {
    p.depth[i] = d;
    if (s[i] === '\\' && ASCII_PUNCT.includes(s[i + 1] || 'a')) p.depth[++i] = d;
    else if (s[i] === '(') {
      open.push(i);
      d++;
    } else if (s[i] === ')') {
      if (open.length) p.close[open.pop()!] = i;
      d--;
    }
  }
  p.ws[n] = n;
  for (let i = n - 1; i >= 0; i--) p.ws[i] = s.charCodeAt(i) <= 32 ? i : p.ws[i + 1]!;
  return p;
}

/** `(dest "title")` at `p`: the destination (escapes removed) and the index after `)`. */
function linkTail(x: Ctx, p: number): { dest: string; end: number } | null {
  const s = x.s;
  const pr = (x.parens ??= matchParens(s));
  let j = skipWs(s, p + 1);
  let dest: string;
  if (s[j] === '<') {
    let k = j + 1;
    while (k < s.length && s[k] !== '>' && s[k] !== '<' && s[k] !== '\n') k += s[k] === '\\' ? 2 : 1;
    if (s[k] !== '>') return null;
    dest = s.slice(j + 1, k);
    j = k + 1;
  } else {
    const close = pr.close[p]!;
    const ws = pr.ws[j]!;
    if (close >= 0 && close < ws) return { dest: unescape(s.slice(j, close)), end: close + 1 };
    if (pr.depth[ws] !== pr.depth[j]) return null; // unbalanced parentheses
    dest = s.slice(j, ws);
    j = ws;
  }
  const k = skipWs(s, j);
  j = k > j ? title(s, k) : k;
  return s[j] === ')' ? { dest: unescape(dest), end: j + 1 } : null;
}

/** Skips a link title at `k` if there is one; -1 when it never closes. */
function title(s: string, k: number): number {
  const q = s[k];
  if (q !== '"' && q !== "'" && q !== '(') return k;
  const end = q === '(' ? ')' : q;
  let i = k + 1;
  for (; i < s.length && s[i] !== end; i++) {
    if (s[i] === '\\') i++;
    else if (q === '(' && s[i] === '(') return -1;
  }
  return i < s.length ? skipWs(s, i + 1) : -1;
}

function skipWs(s: string, i: number): number {
  while (s[i] === ' ' || s[i] === '\t' || s[i] === '\n') i++;
  return i;
}

function unescape(v: string): string {
  return v.replace(/\\([!-/:-@[-`{-~])/g, '$1');
}

// `<scheme:…>` or `<user@host>`. An unsafe one stays literal text, angle brackets and all.
function autolink(x: Ctx, i: number): number {
  const s = x.s;
  let k = i + 1;
  while (k < s.length && s[k] !== '>' && s[k] !== '<' && s.charCodeAt(k) > 32) k++;
  const v = s.slice(i + 1, k);
  const at = v.indexOf('@');
  const email = at > 0 && at === v.lastIndexOf('@') && v.indexOf('.', at) > at + 1 && !/[\\:()[\],;"]/.test(v);
  if (s[k] !== '>' || (!email && !/^[a-z][a-z\d+.-]{1,31}:/i.test(v))) return text(x, '<') && i + 1;
  return linkOrText(x, safeHref(email ? `mailto:${v}` : v), v, s.slice(i, k + 1)) && k + 1;
}

const URL_END = new Set('<>[]`"');
const TRAILING = '?!.,:;*_~\'"';

// A bare http(s) URL after a space, a line start or one of `(*_~`. It ends at whitespace and at
// brackets, so `[https://a.example](https://b.example)` stays one link; trailing punctuation and
// an unbalanced `)` belong to the sentence, not to the URL.
function bareUrl(x: Ctx, i: number): number {
  const s = x.s;
  const before = s[i - 1] ?? ' ';
  if (!WS.test(before) && !'(*_~'.includes(before)) return text(x, s[i]!) && i + 1;
  let e = i;
  let parens = 0;
  for (; e < s.length && s.charCodeAt(e) > 32 && !URL_END.has(s[e]!); e++) parens += s[e] === '(' ? 1 : s[e] === ')' ? -1 : 0;
  for (let c = s[e - 1]!; TRAILING.includes(c) || (c === ')' && parens < 0); c = s[e - 1]!) {
    if (c === ')') parens++;
    e--;
  }
  const v = s.slice(i, e);
  return linkOrText(x, safeHref(v), v, v) && e;
}

/** A link named `v`, or `fallback` as text when there is no safe href. */
function linkOrText(x: Ctx, href: string | null, v: string, fallback: string): true {
  return href ? !!add(x, { t: 'link', href, c: [{ t: 'text', v }] }, 1) : text(x, fallback);
}
