// The conversation on screen: one bubble per message, model and visitor text alike rendered
// through the Markdown subset into DOM nodes (render.ts), never through an HTML string.
import type { Strings } from './i18n.js';
import { formattedLength, parseGrowing, type Block, type Inline, type Resume } from './markdown.js';
import { codeCuts } from './code-cuts.js';
import { codePiece, renderBlock, renderInline, renderListItem } from './render.js';

export type Role = 'user' | 'assistant';
export type Status = 'complete' | 'interrupted' | 'failed' | 'writing';

export interface Bubble {
  readonly element: HTMLElement;
  /** Shows this text (a streamed reply calls it per delta; drawing waits for the next frame). */
  text(content: string): void;
  status(status: Status): void;
}

type ListBlock = Extract<Block, { items: Inline[][] }>;
const isList = (b: Block | undefined): b is ListBlock => b?.t === 'ul' || b?.t === 'ol';

/**
 * Shows the parsed `blocks` in `body`, where `drawn` is on screen; what did not change stays. A
 * streamed reply only grows at its end, so the blocks before the first one that changed are kept,
 * and a list that grew keeps its items: rebuilding the whole bubble every frame took a visitor's
 * selection away as they copied a paragraph, and on a phone held the host page for a long task
 * per frame once the reply was long. Blocks the parser took up again are the drawn ones
 * themselves, so only the last few are compared by value.
 */
function redraw(body: HTMLElement, drawn: Block[], blocks: Block[], text: string): void {
  // Past what is formatted, the rest of a very long reply is shown as plain text, last: it was
  // dropped, and a reply of 125,000 characters ended on screen a fifth short, with no sign.
  const last = body.lastElementChild;
  const rest = last?.classList.contains('rest') ? last : null;
  rest?.remove();
  let kept = 0;
  for (; kept < blocks.length && kept < drawn.length; kept++) {
    const before = drawn[kept]!;
    const now = blocks[kept]!;
    if (before !== now && !grow(body.children[kept] as HTMLElement, before, now)) break;
  }
  while (body.childNodes.length > kept) body.lastChild!.remove();
  for (let i = kept; i < blocks.length; i++) body.append(renderBlock(document, blocks[i]!));
  const cut = formattedLength(text);
  if (cut < text.length) {
    const plain = rest ?? Object.assign(document.createElement('p'), { className: 'rest' });
    plain.textContent = text.slice(cut);
    body.append(plain);
  }
}

/**
 * Makes `element`, which shows `before`, show `now` when both are blocks of one kind, changing only
 * what differs from the first part that does: a code block appends what it gained, a paragraph or
 * list keeps its leading parts. False when `now` needs an element of its own.
 */
function grow(element: HTMLElement, before: Block, now: Block): boolean {
  if (before.t === 'p' && now.t === 'p') return keepLeading(element, before.c, now.c, (n) => renderInline(document, n)), true;
  if (before.t === 'pre' && now.t === 'pre') {
    if (before.lang !== now.lang || !now.v.startsWith(before.v)) return false;
    return growCode(element.firstElementChild as HTMLElement, before.v, now.v);
  }
  if (isList(before) && isList(now) && before.t === now.t && (before.t === 'ul' || before.start === (now as typeof before).start)) {
    return keepLeading(element, before.items, now.items, (item) => renderListItem(document, item)), true;
  }
  return false;
}

/**
 * Appends what a code block gained, as text nodes of their own (a selection inside it survives),
 * to its last piece and to the new pieces it needs (code-cuts.ts). False when it needs
 * drawing whole: the first cut of a block so far drawn in one piece.
 */
function growCode(code: HTMLElement, before: string, now: string): boolean {
  const cutBefore = codeCuts(before).at(-1);
  const cuts = codeCuts(now, cutBefore === undefined ? 0 : cutBefore + 1);
  if (cutBefore === undefined && cuts.length > 0) return false;
  let piece: HTMLElement = cutBefore === undefined ? code : (code.lastElementChild as HTMLElement);
  let start = before.length;
  for (const end of cuts) {
    if (end > start) piece.append(document.createTextNode(now.slice(start, end)));
    piece = code.appendChild(codePiece(document, ''));
    start = end + 1;
  }
  if (now.length > start) piece.append(document.createTextNode(now.slice(start)));
  return true;
}

/** Shows `now` in `parent`, whose children show `before` one each, keeping the leading ones that did not change. */
function keepLeading<T>(parent: HTMLElement, before: T[], now: T[], render: (part: T) => Node): void {
  let kept = 0;
  while (kept < now.length && kept < before.length && (now[kept] === before[kept] || JSON.stringify(now[kept]) === JSON.stringify(before[kept]))) kept++;
  while (parent.childNodes.length > kept) parent.lastChild!.remove();
  for (let i = kept; i < now.length; i++) parent.append(render(now[i]!));
}

/**
 * Runs `draw` at the next frame once asked (asks in between count once), leaving at least twice
 * a draw's own time before the next (the layout it forces when it keeps the bottom in view
 * included): a reply whose every frame is costly then takes at most a third of a phone's main
 * thread, not all of it, and the page keeps answering taps and scrolls.
 */
function pace(draw: () => void) {
  let frame = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let readyAt = 0;
  const run = () => {
    frame = 0;
    timer = undefined;
    const start = performance.now();
    draw();
    const end = performance.now();
    readyAt = end + 2 * (end - start);
  };
  return {
    soon() {
      if (frame || timer !== undefined) return;
      const wait = readyAt - performance.now();
      if (wait <= 0) frame = requestAnimationFrame(run);
      else timer = setTimeout(() => ((timer = undefined), (frame = requestAnimationFrame(run))), wait);
    },
    /** Draws what waits at once (a reply's end, so its last words are never held back). */
    now() {
      if (!frame && timer === undefined) return;
      cancelAnimationFrame(frame);
      clearTimeout(timer);
      run();
    },
  };
}

export function createMessagesView(log: HTMLElement, strings: Strings) {
  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  const follow = (wasNear: boolean) => void (wasNear && (log.scrollTop = log.scrollHeight));

  function add(role: Role, content: string, status: Status = 'complete'): Bubble {
    const element = document.createElement('div');
    element.className = 'msg';
    element.part.add('message', role);
    element.dataset.role = role;
    element.dir = 'auto';
    const body = document.createElement('div');
    const note = document.createElement('div');
    note.className = 'note';
    element.append(body, note);
    let pending: string | null = null;
    let drawn: Block[] = [];
    let resume: Resume | undefined;
    const draw = () => {
      if (pending === null) return;
      const wasNear = nearBottom();
      const parsed = parseGrowing(pending, resume);
      redraw(body, drawn, parsed.blocks, pending);
      ({ blocks: drawn, resume } = parsed);
      element.classList.toggle('long', pending.length > 2000);
      pending = null;
      follow(wasNear);
    };
    const paced = pace(draw);
    const bubble: Bubble = {
      element,
      text(next) {
        pending = next;
        paced.soon();
      },
      status(next) {
        element.dataset.status = next;
        element.setAttribute('aria-busy', String(next === 'writing'));
        const words = next === 'writing' ? strings.writing : next === 'interrupted' ? strings.interrupted : next === 'failed' ? strings.failed : '';
        note.textContent = words;
        note.hidden = !words;
        if (next !== 'writing') paced.now();
      },
    };
    const wasNear = nearBottom();
    log.append(element);
    bubble.text(content);
    bubble.status(status);
    draw();
    follow(wasNear || role === 'user');
    return bubble;
  }

  return {
    add,
    clear: () => log.replaceChildren(),
    /** Bubbles on screen. */
    count: () => log.childElementCount,
    /** Removes the bubbles after the first `count` (a reply that never came). */
    truncate(count: number) {
      while (log.childElementCount > count) log.lastElementChild!.remove();
    },
  };
}

export type MessagesView = ReturnType<typeof createMessagesView>;
