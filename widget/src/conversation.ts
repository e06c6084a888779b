// A visitor's chat as the panel runs it: the chatbot's page, the conversation on screen (restored
// with one request, then waiting for a reply another tab or the page before a reload is still
// owed), and the refusals a visitor can meet, in their words. Sending lives in sending.ts.
import { ApiError, type ApiClient, type PublicChatbot } from './api-client.js';
import { inTime, type Locale, type Strings } from './i18n.js';
import type { Bubble, MessagesView } from './messages-view.js';
import { createSending } from './sending.js';
import type { Store } from './store.js';

export interface ChatSurface {
  /** The chatbot's name, and the longest message its server takes. */
  title(name: string, maxChars?: number): void;
  busy(busy: boolean): void;
  /** Shows a message; `retry` adds a button that runs it. Null hides it. */
  error(text: string | null, retry?: () => void): void;
  /** The chat cannot be used from here (unknown chatbot, site not allowed): input off. */
  blocked(text: string): void;
  /** Gives back text the server refused, so the visitor need not type it again. */
  restore(text: string): void;
  /** Tells a screen reader a reply has ended: its words, and whether it stopped short or failed. */
  announce(text: string, status?: 'complete' | 'interrupted' | 'failed'): void;
}

export interface ChatDeps {
  client: ApiClient;
  store: () => Store;
  userToken: () => string | null;
  view: MessagesView;
  surface: ChatSurface;
  strings: Strings;
  locale: Locale;
}

/** What the parts of a chat share: the conversation on screen and whether the chat can be used. */
export interface ChatState {
  shown: string | null;
  /** Counts what the log has shown: a turn sent in an earlier view keeps running, out of sight. */
  view: number;
  /** A turn sent in this view is running (stop shown, send held). */
  busy: boolean;
  /** The running turn's reply has arrived in full; only its stream is still closing. */
  replied: boolean;
  /** The running turn, settled once its stream has closed. */
  turn: Promise<void>;
  blocked: boolean;
  poll: number;
  /** Messages sent so far (a restore answered after one of them is out of date). */
  sent: number;
}

const POLL_MS = 2000;
const POLL_TRIES = 90;

/** A refusal in the visitor's words, saying when to come back where the server says. */
export function explain(error: unknown, strings: Strings, locale: Locale): string {
  if (!(error instanceof ApiError)) return strings.failure;
  if (error.status === 0) return strings.offline;
  if (error.code === 'quota_exceeded') return strings.quota.replace('{when}', inTime(locale, error.retryAfter, strings));
  if (error.status === 429) return strings.rateLimited.replace('{when}', inTime(locale, error.retryAfter, strings));
  if (error.code === 'origin_not_allowed') return strings.notAllowed;
  if (error.code === 'conversation_busy') return strings.busy;
  // A server at capacity, or its database away for a moment: nothing was stored, the words wait.
  if (error.status === 503) return strings.crowded;
  if (error.status === 404) return strings.unavailable;
  return strings.failure;
}

/** A reply another tab (or the page before a reload) is still waiting for: shown once stored. */
function awaitReply(deps: ChatDeps, state: ChatState, id: string, token: string, placeholder: Bubble, tries: number) {
  state.poll = window.setTimeout(async () => {
    if (state.shown !== id) return;
    const last = (await deps.client.messages(token, id).catch(() => null))?.at(-1);
    if (state.shown !== id) return;
    if (last && last.role === 'assistant') {
      deps.view.add(last.role, last.content, last.status);
      placeholder.element.remove();
      deps.surface.announce(last.content, last.status);
    } else if (tries > 1) awaitReply(deps, state, id, token, placeholder, tries - 1);
    else {
      placeholder.status('failed');
      deps.surface.announce('', 'failed');
    }
  }, POLL_MS);
}

/** Settles when no turn of the view on screen is running. */
async function whenIdle(state: ChatState): Promise<void> {
  while (state.busy) await state.turn;
}

/** A new view: a reply still streaming in the conversation left goes on there; it holds nothing here. */
function freshView(state: ChatState, surface: ChatSurface): void {
  state.view += 1;
  state.busy = false;
  surface.busy(false);
}

export function createChat(deps: ChatDeps) {
  const { client, view, surface } = deps;
  const state: ChatState = { shown: null, view: 0, busy: false, replied: false, turn: Promise.resolve(), blocked: false, poll: 0, sent: 0 };
  let page: Promise<PublicChatbot | null> | null = null;
  const say = (error: unknown) => explain(error, deps.strings, deps.locale);

  /** The chatbot's name and greeting, once; a chatbot that cannot be used here blocks the input. */
  function chatbotPage(): Promise<PublicChatbot | null> {
    page ??= client.chatbot().then(
      (chatbot) => {
        surface.title(chatbot.name, chatbot.max_message_chars);
        return chatbot;
      },
      (error: unknown) => {
        if (error instanceof ApiError && (error.code === 'origin_not_allowed' || error.status === 404)) {
          state.blocked = true;
          surface.blocked(say(error));
        } else {
          surface.error(say(error), () => {
            page = null;
            void show(state.shown);
          });
        }
        return null;
      },
    );
    return page;
  }

  /** Shows a conversation (null: a new one, not yet started), restored with one request. */
  async function show(id: string | null, options: { keepError?: boolean } = {}): Promise<void> {
    clearTimeout(state.poll);
    freshView(state, surface);
    state.shown = id;
    deps.store().update((saved) => void (saved.current = id));
    const chatbot = await chatbotPage();
    if (state.shown !== id) return;
    view.clear();
    if (!state.blocked && !options.keepError) surface.error(null);
    if (chatbot?.greeting) view.add('assistant', chatbot.greeting).element.dataset.greeting = '';
    const token = deps.store().read().token;
    if (!id || !token || state.blocked) return;
    const sent = state.sent;
    try {
      const messages = await client.messages(token, id);
      if (state.shown !== id) return;
      // Answered after the visitor sent a message here: it would go below the new one (and repeat
      // it when the server had it already). Shown afresh, in order, once the chat is idle.
      if (state.sent !== sent) return void whenIdle(state).then(() => (state.shown === id ? show(id, { keepError: true }) : undefined));
      for (const message of messages) view.add(message.role, message.content, message.status);
      if (messages.at(-1)?.role === 'user') awaitReply(deps, state, id, token, view.add('assistant', '', 'writing'), POLL_TRIES);
    } catch (error) {
      // A message sent meanwhile has already moved the chat on (sending.ts): nothing to undo here.
      if (state.shown !== id) return;
      if (error instanceof ApiError && (error.status === 401 || error.status === 404)) {
        // Gone (deleted, or the chatbot made private) or no longer ours: start afresh.
        deps.store().update((saved) => {
          saved.conversations = saved.conversations.filter((c) => c.id !== id);
          if (saved.current === id) saved.current = null;
        });
        state.shown = null;
      } else surface.error(say(error), () => void show(id));
    }
  }

  const sending = createSending(deps, state, { chatbotPage, say, refresh: () => show(state.shown) });
  return { show, shown: () => state.shown, send: sending.send, stop: sending.stop };
}

export type Chat = ReturnType<typeof createChat>;
