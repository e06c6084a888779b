// Builds the DOM of a parsed message with createElement and text nodes only: no HTML string is
// ever parsed, so text that looks like markup stays text. Attributes are limited to an href that
// passes safeHref (checked again here, in case a tree was built elsewhere), target/rel on links
// and a code block's language class.
import { codeCuts } from './code-cuts.js';
import { MAX_SOURCE, safeHref, type Block, type Inline } from './markdown.js';

// Links leave the host page: no window.opener for the target, no referrer, and the model's or a
// visitor's links earn no ranking from the host site.
const LINK_REL = 'noopener noreferrer nofollow ugc';

export function renderMarkdown(doc: Document, blocks: Block[]): DocumentFragment {
  const frag = doc.createDocumentFragment();
  for (const b of blocks) frag.append(renderBlock(doc, b));
  return frag;
}

/**
 * Text exactly as typed: one paragraph, a line break per line end. For text that must not be
 * read as Markdown at all; visitor text can go through parseMarkdown too, which is as safe.
 */
export function renderPlain(doc: Document, text: string): DocumentFragment {
  const frag = doc.createDocumentFragment();
  const p = doc.createElement('p');
  text
    .slice(0, MAX_SOURCE)
    .split(/\r\n?|\n/)
    .forEach((line, i) => {
      if (i) p.append(doc.createElement('br'));
      p.append(doc.createTextNode(line));
    });
  frag.append(p);
  return frag;
}

export function renderBlock(doc: Document, b: Block): HTMLElement {
  if (b.t === 'p') return fill(doc, doc.createElement('p'), b.c);
  if (b.t === 'pre') {
    const pre = doc.createElement('pre');
    const code = doc.createElement('code');
    const cuts = codeCuts(b.v);
    if (cuts.length === 0) code.textContent = b.v;
    else {
      let start = 0;
      for (const end of [...cuts, b.v.length]) {
        code.append(codePiece(doc, b.v.slice(start, end)));
        start = end + 1;
      }
    }
    if (b.lang) code.className = `language-${b.lang}`;
    pre.append(code);
    return pre;
  }
  const list = b.t === 'ol' ? doc.createElement('ol') : doc.createElement('ul');
  if (b.t === 'ol' && b.start !== 1) (list as HTMLOListElement).start = b.start;
  for (const item of b.items) list.append(renderListItem(doc, item));
  return list;
}

/** One piece of a long code block (code-cuts.ts): a block of its own (panel-styles.ts). */
export function codePiece(doc: Document, text: string): HTMLSpanElement {
  const piece = doc.createElement('span');
  piece.textContent = text;
  return piece;
}

export function renderListItem(doc: Document, item: Inline[]): HTMLLIElement {
  return fill(doc, doc.createElement('li'), item);
}

function fill<P extends ParentNode>(doc: Document, parent: P, c: Inline[]): P {
  for (const n of c) parent.append(renderInline(doc, n));
  return parent;
}

export function renderInline(doc: Document, n: Inline): Node {
  switch (n.t) {
    case 'text':
      return doc.createTextNode(n.v);
    case 'br':
      return doc.createElement('br');
    case 'code': {
      const code = doc.createElement('code');
      code.textContent = n.v;
      return code;
    }
    case 'link': {
      const href = safeHref(n.href);
      // Its text alone, in a span so each inline stays one node (a growing paragraph keeps its leading ones).
      if (!href) return fill(doc, doc.createElement('span'), n.c);
      const a = doc.createElement('a');
      a.href = href;
      a.target = '_blank';
      a.rel = LINK_REL;
      return fill(doc, a, n.c);
    }
    default:
      return fill(doc, doc.createElement(n.t), n.c);
  }
}

/**
 * What a screen reader should say for a message: the words a sighted visitor reads in the bubble,
 * each block on a line of its own, without the Markdown marks (`**`, backticks, brackets) and
 * without the addresses behind link texts, which were read out character by character.
 */
export function spokenText(blocks: Block[]): string {
  const lines: string[] = [];
  for (const b of blocks) {
    if (b.t === 'p') lines.push(inlineText(b.c));
    else if (b.t === 'pre') lines.push(b.v);
    else for (const item of b.items) lines.push(inlineText(item));
  }
  return lines.join('\n');
}

function inlineText(c: Inline[]): string {
  let out = '';
  for (const n of c) {
    if (n.t === 'text' || n.t === 'code') out += n.v;
    else if (n.t === 'br') out += '\n';
    else out += inlineText(n.c);
  }
  return out;
}
