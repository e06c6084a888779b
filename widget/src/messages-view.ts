// The conversation on screen: one bubble per message, model and visitor text alike rendered
// through the Markdown subset into DOM nodes (render.ts), never through an HTML string.
import type { Strings } from './i18n.js';
import { parseMarkdown } from './markdown.js';
import { renderMarkdown } from './render.js';

export type Role = 'user' | 'assistant';
export type Status = 'complete' | 'interrupted' | 'failed' | 'writing';

export interface Bubble {
  readonly element: HTMLElement;
  /** Shows this text (a streamed reply calls it per delta; drawing waits for the next frame). */
  text(content: string): void;
  status(status: Status): void;
}

export function createMessagesView(log: HTMLElement, strings: Strings) {
  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  const follow = (wasNear: boolean) => {
    if (wasNear) log.scrollTop = log.scrollHeight;
  };

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
    const draw = () => {
      frame = 0;
      if (pending === null) return;
      const wasNear = nearBottom();
      body.replaceChildren(renderMarkdown(document, parseMarkdown(pending)));
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
