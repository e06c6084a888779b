// The chat panel, loaded by widget.js on first use: a labelled dialog (the whole page on the
// hosted chat page) with the conversation as a log, a composer, earlier conversations, and one
// visually hidden live region in the host page's light DOM that announces each finished reply
// once (screen readers on iOS miss live regions inside shadow roots).
import { createApiClient } from './api-client.js';
import type { MountContext, Panel } from './contract.js';
import { createChat, type Chat, type ChatSurface } from './conversation.js';
import { buildPanel, type PanelElements } from './panel-dom.js';
import { PANEL_CSS } from './panel-styles.js';
import { createMessagesView } from './messages-view.js';
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

/** How the chat shows its state in the panel's elements. */
function surfaceOf(ui: PanelElements, live: HTMLElement): ChatSurface {
  return {
    title(name, maxChars) {
      ui.title.textContent = name;
      // Typing or pasting stops at what the server takes: a longer message would only be refused
      // (maxLength counts UTF-16 units, the server characters: never more than it takes).
      if (maxChars) ui.input.maxLength = maxChars;
    },
    busy(busy) {
      ui.send.hidden = busy;
      ui.stop.hidden = !busy;
    },
    error(text, retry) {
      ui.error.hidden = text === null;
      ui.errorText.textContent = text ?? '';
      ui.retry.hidden = !retry;
      ui.retry.onclick = retry ? () => retry() : null;
    },
    blocked(text) {
      ui.input.disabled = true;
      ui.send.disabled = true;
      ui.error.hidden = false;
      ui.errorText.textContent = text;
      ui.retry.hidden = true;
    },
    restore(text) {
      if (!ui.input.value) ui.input.value = text;
    },
    announce(text) {
      // The page may have swapped its <body> (Turbo, htmx) since: the region goes into the new one.
      if (!live.isConnected) document.body.append(live);
      // Emptied first so the same words twice are still read twice.
      live.textContent = '';
      setTimeout(() => (live.textContent = `${ui.title.textContent ?? ''}: ${text}`), 50);
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

function followViewport(panel: HTMLElement, isPage: boolean): () => void {
  function fitViewport() {
    const viewport = window.visualViewport;
    // Only where the panel is the whole window: keep the composer above the on-screen keyboard.
    if (!viewport || panel.hidden || !(isPage || matchMedia('(max-width: 640px)').matches)) {
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
    surface: surfaceOf(ui, live),
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
