// The chat panel, loaded by widget.js on first use: a labelled dialog (the whole page on the
// hosted chat page) with the conversation as a log, a composer, earlier conversations, and one
// visually hidden live region in the host page's light DOM that announces each finished reply
// once (screen readers on iOS miss live regions inside shadow roots).
import { createApiClient } from './api-client.js';
import type { Strings } from './i18n.js';
import type { MountContext, Panel } from './contract.js';
import { createChat, type Chat, type ChatSurface } from './conversation.js';
import { buildPanel, type PanelElements } from './panel-dom.js';
import { PANEL_CSS, SMALL_SCREEN } from './panel-styles.js';
import { createMessagesView } from './messages-view.js';
import { formattedLength, parseMarkdown } from './markdown.js';
import { spokenText } from './render.js';
import { openStore, type SavedConversation } from './store.js';

function liveRegion(): HTMLElement {
  const region = document.createElement('div');
  region.setAttribute('aria-live', 'polite');
  region.setAttribute('data-parley-live', '');
  // Set through the CSSOM: a host page's strict style-src does not apply to it.
  region.style.cssText = 'position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0';
  document.body.append(region);
  return region;
}

/**
 * Runs a change that may hide the control holding the focus (send becomes stop while a reply is
 * written, stop becomes send after it, retry goes once pressed). A hidden element drops the focus
 * to the host page's <body>, and a keyboard user had to tab through the whole page to get back:
 * it goes to the control in its place (stop, for send) or the message box.
 */
function keepingFocus(ui: PanelElements, change: () => void): void {
  const had = (ui.panel.getRootNode() as ShadowRoot | Document).activeElement;
  change();
  if (!(had instanceof HTMLElement) || !ui.panel.contains(had) || !(had.closest('[hidden]') || had.matches(':disabled'))) return;
  if (had === ui.send && !ui.stop.hidden) ui.stop.focus();
  else if (!ui.input.disabled) ui.input.focus();
  else ui.log.focus();
}

/** How the chat shows its state in the panel's elements. */
function surfaceOf(ui: PanelElements, live: HTMLElement, strings: Strings): ChatSurface {
  return {
    title(name, maxChars) {
      ui.title.textContent = name;
      // A long name is cut short on one line: the whole of it on hover.
      ui.title.title = name;
      // Typing or pasting stops at what the server takes: a longer message would only be refused
      // (maxLength counts UTF-16 units, the server characters: never more than it takes).
      if (maxChars) ui.input.maxLength = maxChars;
    },
    busy(busy) {
      keepingFocus(ui, () => {
        ui.send.hidden = busy;
        ui.stop.hidden = !busy;
      });
    },
    error(text, retry) {
      keepingFocus(ui, () => {
        ui.error.hidden = text === null;
        ui.errorText.textContent = text ?? '';
        ui.retry.hidden = !retry;
        ui.retry.onclick = retry ? () => retry() : null;
      });
    },
    blocked(text) {
      keepingFocus(ui, () => {
        ui.input.disabled = true;
        ui.send.disabled = true;
        ui.error.hidden = false;
        ui.errorText.textContent = text;
        ui.retry.hidden = true;
      });
    },
    restore(text) {
      if (!ui.input.value) ui.input.value = text;
    },
    announce(text, status) {
      // What the bubble's note shows sighted visitors: a failed reply was silent before, and a
      // screen-reader user waited for one that would never come.
      const note = status === 'failed' ? strings.failed : status === 'interrupted' ? strings.interrupted : '';
      const words = [spokenText(parseMarkdown(text)), text.slice(formattedLength(text)), note].filter(Boolean).join(' ');
      if (!words) return;
      // The page may have swapped its <body> (Turbo, htmx) since: the region goes into the new one.
      if (!live.isConnected) document.body.append(live);
      // Emptied first so the same words twice are still read twice.
      live.textContent = '';
      setTimeout(() => (live.textContent = `${ui.title.textContent ?? ''}: ${words}`), 50);
    },
  };
}

/** The panel's controls: send (Enter, not Shift+Enter or an IME's Enter), stop, close (Esc), new and earlier conversations. */
function listen(ui: PanelElements, panel: Panel, chat: Chat, options: { isPage: boolean; conversations: () => SavedConversation[] }): void {
  const { isPage } = options;
  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = ui.input.value;
    void chat.send(text).then((sent) => {
      if (sent && ui.input.value === text) ui.input.value = '';
      ui.resize();
    });
  });
  ui.input.addEventListener('keydown', (event) => {
    // Enter sends, Shift+Enter is a new line; Enter that ends an IME composition (Chinese input) only confirms it.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      ui.form.requestSubmit();
    }
  });
  ui.panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !isPage) {
      event.stopPropagation();
      panel.close();
    }
    if (event.key === 'Tab' && !isPage && matchMedia(SMALL_SCREEN).matches) keepTabInside(ui.panel, event);
  });
  ui.stop.addEventListener('click', () => void chat.stop());
  ui.close?.addEventListener('click', () => panel.close());
  ui.fresh.addEventListener('click', () => panel.newConversation());
  ui.history.addEventListener('click', () => {
    if (!ui.list.hidden) return ui.showChat();
    ui.fillHistory(options.conversations(), chat.shown(), (id) => {
      ui.showChat();
      void chat.show(id);
      ui.input.focus();
    });
    ui.list.hidden = false;
    ui.log.hidden = true;
    ui.form.hidden = true;
    ui.history.setAttribute('aria-expanded', 'true');
  });
}

/**
 * Tab past the last control comes back to the first, Shift+Tab before the first goes to the last:
 * with the panel over the whole window the page's own links (and the launcher) are under it, and
 * the focus went there, out of the visitor's sight. (Not aria-modal: the replies' live region is
 * in the host page, outside the dialog, and some screen readers mute what is outside a modal.)
 */
function keepTabInside(panel: HTMLElement, event: KeyboardEvent): void {
  const reachable = Array.from(panel.querySelectorAll<HTMLElement>('button, textarea, a[href], [tabindex]')).filter(
    (element) => !element.closest('[hidden]') && !element.matches(':disabled') && element.tabIndex >= 0,
  );
  const first = reachable[0];
  const last = reachable.at(-1);
  const active = (panel.getRootNode() as ShadowRoot).activeElement;
  const edge = event.shiftKey ? first : last;
  if (!first || !last || (active !== edge && panel.contains(active))) return;
  event.preventDefault();
  (event.shiftKey ? last : first).focus();
}

function followViewport(panel: HTMLElement, isPage: boolean): () => void {
  function fitViewport() {
    const viewport = window.visualViewport;
    // Only where the panel is the whole window: keep the composer above the on-screen keyboard.
    if (!viewport || panel.hidden || !(isPage || matchMedia(SMALL_SCREEN).matches)) {
      panel.style.removeProperty('height');
      panel.style.removeProperty('top');
      return;
    }
    panel.style.top = `${viewport.offsetTop}px`;
    panel.style.height = `${viewport.height}px`;
  }
  window.visualViewport?.addEventListener('resize', fitViewport);
  window.visualViewport?.addEventListener('scroll', fitViewport);
  return fitViewport;
}

export function mount(context: MountContext): Panel {
  const { root, frame, host, launcher, options, strings } = context;
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(PANEL_CSS);
  root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
  const ui = buildPanel(strings, options);
  frame.append(ui.panel);
  const live = liveRegion();
  let store = openStore(context.api, options.chatbot, options.userToken);

  const chat = createChat({
    client: createApiClient(context.api, options.chatbot),
    store: () => store,
    userToken: () => options.userToken,
    view: createMessagesView(ui.log, strings),
    strings,
    locale: options.locale,
    surface: surfaceOf(ui, live, strings),
  });

  let started = false;
  const isPage = options.mode === 'page';

  const fitViewport = followViewport(ui.panel, isPage);

  const panel: Panel = {
    open() {
      ui.panel.hidden = false;
      launcher?.setAttribute('aria-expanded', 'true');
      launcher?.setAttribute('aria-label', strings.close);
      fitViewport();
      ui.input.focus();
      performance.mark('parley-ready');
      if (!started) {
        started = true;
        // After the input has focus, in a task of its own: storage, the greeting, the history.
        setTimeout(() => void chat.show(store.read().current));
      }
    },
    close() {
      if (isPage) return;
      const hadFocus = root.activeElement !== null && ui.panel.contains(root.activeElement);
      ui.panel.hidden = true;
      launcher?.setAttribute('aria-expanded', 'false');
      launcher?.setAttribute('aria-label', strings.open);
      host.dispatchEvent(new Event('parley:closed'));
      if (hadFocus) launcher?.focus();
    },
    setUserToken(token) {
      options.userToken = token;
      store = openStore(context.api, options.chatbot, token);
      if (started) void chat.show(store.read().current);
    },
    newConversation() {
      ui.showChat();
      void chat.show(null);
      ui.input.focus();
    },
  };

  listen(ui, panel, chat, { isPage, conversations: () => store.read().conversations });
  return panel;
}
