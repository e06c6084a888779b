// Sending a visitor's message: the visit started on the first message (never for a visitor who
// only looks), the reply streamed into its bubble, stop, and retry after a network failure with
// the same Idempotency-Key, so the server never runs one message's turn twice.
import { ApiError } from './api-client.js';
import type { ChatDeps, ChatState } from './conversation.js';
import type { Bubble } from './messages-view.js';

function idempotencyKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function conversationFor(deps: ChatDeps, state: ChatState, text: string): Promise<{ token: string; id: string }> {
  const saved = deps.store().read();
  if (state.shown && saved.token) return { token: saved.token, id: state.shown };
  const visit = await deps.client.startVisit(saved.token ?? deps.userToken(), saved.label);
  deps.store().update((s) => {
    s.token = visit.visitor_token;
    s.expires = Date.parse(visit.expires_at);
    s.current = visit.conversation_id;
    s.conversations.unshift({ id: visit.conversation_id, title: text.trim().slice(0, 80), at: Date.now() });
  });
  state.shown = visit.conversation_id;
  return { token: visit.visitor_token, id: visit.conversation_id };
}

async function stream(deps: ChatDeps, state: ChatState, text: string, key: string): Promise<Bubble | null> {
  const { token, id } = await conversationFor(deps, state, text);
  const reply = deps.view.add('assistant', '', 'writing');
  let sofar = '';
  await deps.client.send(token, id, text, key, {
    delta(delta) {
      sofar += delta;
      reply.text(sofar);
    },
    end(stored) {
      state.replied = true;
      reply.text(stored.content);
      reply.status(stored.status);
      if (stored.content) deps.surface.announce(stored.content);
    },
  });
  return reply;
}

/** One turn at a time: busy (stop shown) from the send until its stream has closed. */
function runTurn(deps: ChatDeps, state: ChatState, work: () => Promise<void>): void {
  state.busy = true;
  state.replied = false;
  deps.surface.busy(true);
  state.turn = (async () => {
    try {
      await work();
    } catch {
      deps.surface.error(deps.strings.failure);
    } finally {
      state.busy = false;
      deps.surface.busy(false);
    }
  })();
}

export function createSending(deps: ChatDeps, state: ChatState, chat: { chatbotPage(): Promise<unknown>; say(error: unknown): string }) {
  const { client, view, surface, strings } = deps;

  async function deliver(text: string, key: string, mine: Bubble, renewed = false): Promise<void> {
    const pending = view.count();
    try {
      await stream(deps, state, text, key);
    } catch (error) {
      view.truncate(pending);
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 401 && !renewed) {
        // The visitor token lapsed or was revoked: a new visit carries the message instead.
        deps.store().update((s) => void ((s.token = null), (s.current = null)));
        state.shown = null;
        return deliver(text, idempotencyKey(), mine, true);
      }
      if (error.status === 0) return surface.error(strings.offline, () => void retry(text, key, mine));
      if (error.status === 502) return void view.add('assistant', '', 'failed');
      // Refused before anything was stored: the visitor keeps their words to send later.
      mine.element.remove();
      surface.restore(text);
      if (error.code === 'origin_not_allowed') {
        state.blocked = true;
        surface.blocked(chat.say(error));
      } else surface.error(chat.say(error));
    }
  }

  const run = (work: () => Promise<void>) => runTurn(deps, state, work);

  async function retry(text: string, key: string, mine: Bubble) {
    if (state.busy) return;
    surface.error(null);
    run(() => deliver(text, key, mine));
    await state.turn;
  }

  return {
    async send(text: string): Promise<boolean> {
      if (state.blocked || !text.trim()) return false;
      // A visitor who answers the moment the reply shows complete is not refused for the stream still closing.
      if (state.busy && state.replied) await state.turn;
      if (state.busy) return false;
      await chat.chatbotPage();
      // Checked again after the last wait: two quick Enters start one turn, not two.
      if (state.busy || state.blocked) return false;
      surface.error(null);
      clearTimeout(state.poll);
      const mine = view.add('user', text);
      run(() => deliver(text, idempotencyKey(), mine));
      return true;
    },
    async stop(): Promise<void> {
      const token = deps.store().read().token;
      if (state.busy && state.shown && token) await client.stop(token, state.shown).catch(() => {});
    },
  };
}
