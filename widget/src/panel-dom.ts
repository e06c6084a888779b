// The panel's elements, built with createElement and text nodes only (no HTML strings anywhere).
import type { WidgetOptions } from './contract.js';
import type { Strings } from './i18n.js';
import type { SavedConversation } from './store.js';

type Attributes = Record<string, string>;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'part') element.part.add(...value.split(' '));
    else element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

function iconButton(part: string, label: string, glyph: string): HTMLButtonElement {
  return h('button', { type: 'button', part, class: 'icon', 'aria-label': label, title: label }, h('span', { 'aria-hidden': 'true' }, glyph));
}

export function buildPanel(strings: Strings, options: WidgetOptions) {
  const isPage = options.mode === 'page';
  const title = h(isPage ? 'h1' : 'h2', { id: 'parley-title' }, strings.chat);
  const history = iconButton('history', strings.history, '☰');
  history.setAttribute('aria-expanded', 'false');
  history.setAttribute('aria-controls', 'parley-conversations');
  const fresh = iconButton('new', strings.newConversation, '+');
  const close = isPage ? null : iconButton('close', strings.close, '×');
  const header = h('header', { part: 'header' }, title, history, fresh, ...(close ? [close] : []));
  // The log is announced through the live region instead, once per reply rather than per token.
  const log = h('div', { class: 'log', part: 'log', role: 'log', 'aria-live': 'off', 'aria-label': strings.messages, tabindex: '0' });
  const list = h('div', { class: 'list', part: 'conversations', id: 'parley-conversations', hidden: '' });
  const errorText = h('span');
  const retry = h('button', { type: 'button', part: 'retry', hidden: '' }, strings.retry);
  const error = h('div', { class: 'error', part: 'error', role: 'alert', hidden: '' }, errorText, retry);
  const input = h('textarea', { part: 'input', rows: '1', maxlength: '32000', placeholder: strings.placeholder, 'aria-label': strings.message, enterkeyhint: 'send' });
  const stop = h('button', { type: 'button', part: 'stop', class: 'stop', hidden: '' }, strings.stop);
  const send = h('button', { type: 'submit', part: 'send', class: 'send' }, strings.send);
  const form = h('form', { part: 'composer' }, input, stop, send);
  const attributes: Attributes = isPage
    ? { class: 'panel', part: 'panel', 'aria-labelledby': 'parley-title', lang: options.locale }
    : { class: 'panel', part: 'panel', role: 'dialog', 'aria-labelledby': 'parley-title', lang: options.locale, hidden: '' };
  const panel = h(isPage ? 'main' : 'section', attributes, header, log, list, error, form);

  const resize = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  };
  input.addEventListener('input', resize);

  function fillHistory(conversations: SavedConversation[], current: string | null, pick: (id: string) => void) {
    const when = new Intl.DateTimeFormat(options.locale, { dateStyle: 'medium', timeStyle: 'short' });
    const items = conversations.map((conversation) => {
      const button = h('button', { type: 'button' }, conversation.title || strings.untitled, h('small', {}, when.format(conversation.at)));
      if (conversation.id === current) button.setAttribute('aria-current', 'true');
      button.addEventListener('click', () => pick(conversation.id));
      return button;
    });
    list.replaceChildren(...(items.length > 0 ? items : [h('p', {}, strings.noHistory)]));
    (items[0] ?? list).focus();
  }

  /** Back from the earlier conversations to the chat. */
  function showChat() {
    list.hidden = true;
    log.hidden = false;
    form.hidden = false;
    history.setAttribute('aria-expanded', 'false');
  }

  return { showChat, panel, title, history, fresh, close, log, list, error, errorText, retry, input, stop, send, form, resize, fillHistory };
}

export type PanelElements = ReturnType<typeof buildPanel>;
