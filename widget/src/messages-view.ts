// The conversation on screen: one bubble per message, model and visitor text alike rendered
// through the Markdown subset into DOM nodes (render.ts), never through an HTML string.
import type { Strings } from './i18n.js';
import { formattedLength, parseMarkdown } from './markdown.js';
import { renderBlock } from './render.js';

export type Role = 'user' | 'assistant';
export type Status = 'complete' | 'interrupted' | 'failed' | 'writing';

export interface Bubble {
  readonly element: HTMLElement;
  /** Shows this text (a streamed reply calls it per delta; drawing waits for the next frame). */
  text(content: string): void;
  status(status: Status): void;
}

/**
 * Shows `text` in `body`, whose blocks were drawn from `drawn` (each block as JSON); returns what
 * is drawn now. A streamed reply only grows at its end, so the blocks before the first one that
 * changed are kept: rebuilding the whole bubble every frame took a visitor's selection away as
 * they copied a paragraph, and on a phone held the host page for a long task per frame once the
 * reply was long.
 */
function redraw(body: HTMLElement, drawn: string[], text: string): string[] {
  const blocks = parseMarkdown(text);
  const next = blocks.map((block) => JSON.stringify(block));
  // Past what is formatted, the rest of a very long reply is shown as plain text, last: it was
  // dropped, and a reply of 125,000 characters ended on screen a fifth short, with no sign.
  const last = body.lastElementChild;
  const rest = last?.classList.contains('rest') ? last : null;
  rest?.remove();
  let same = 0;
  while (same < next.length && same < drawn.length && next[same] === drawn[same]) same++;
  while (body.childNodes.length > same) body.lastChild!.remove();
  for (let i = same; i < blocks.length; i++) body.append(renderBlock(document, blocks[i]!));
  const cut = formattedLength(text);
  if (cut < text.length) {
    const plain = rest ?? Object.assign(document.createElement('p'), { className: 'rest' });
    plain.textContent = text.slice(cut);
    body.append(plain);
  }
  return next;
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
    let frame = 0;
    let drawn: string[] = [];
    const draw = () => {
      frame = 0;
      if (pending === null) return;
      const wasNear = nearBottom();
      drawn = redraw(body, drawn, pending);
      pending = null;
      follow(wasNear);
    };
    const bubble: Bubble = {
      element,
      text(next) {
        pending = next;
        frame ||= requestAnimationFrame(draw);
      },
      status(next) {
        element.dataset.status = next;
        element.setAttribute('aria-busy', String(next === 'writing'));
        const words = next === 'writing' ? strings.writing : next === 'interrupted' ? strings.interrupted : next === 'failed' ? strings.failed : '';
        note.textContent = words;
        note.hidden = !words;
        if (next !== 'writing' && frame) {
          cancelAnimationFrame(frame);
          draw();
        }
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
