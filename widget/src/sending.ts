// Sending a visitor's message: the visit started on the first message (never for a visitor who
// only looks), the reply streamed into its bubble, stop, and retry after a network failure with
// the same Idempotency-Key, so the server never runs one message's turn twice. A turn belongs to
// the view it was sent from: a visitor who opens another conversation meanwhile can chat there at
// once, and the reply goes on being written and stored in its own (shown there when they return).
import { ApiError, fromGateway, STREAM_FAILED } from './api-client.js';
import type { ChatDeps, ChatState } from './conversation.js';
import type { Bubble } from './messages-view.js';

function idempotencyKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

const TITLE_UNITS = 80;

/**
 * The text's start, at most `units` UTF-16 units, cut between characters as a reader sees them: a
 * plain cut halved an emoji (shown as a replacement character in the earlier conversations) or a
 * family emoji (two people where three were written).
 */
function firstCharacters(text: string, units: number): string {
  if (text.length <= units) return text;
  const head = text.slice(0, units + 64);
  const pieces = typeof Intl.Segmenter === 'function' ? Array.from(new Intl.Segmenter().segment(head), (s) => s.segment) : Array.from(head);
  let out = '';
  for (const piece of pieces) {
    if (out.length + piece.length > units) break;
    out += piece;
  }
  return out;
}

/** One message on its way: the view it was sent from, and its conversation once known. */
interface Turn {
  view: number;
  conversation: string | null;
  /** The server has begun the reply (a stop sent before then finds nothing to stop). */
  started?: boolean;
  /** The visitor pressed stop; sent once the reply has begun, if it had not yet. */
  stopWanted?: boolean;
}

/** Asks the server to stop the turn's reply (it then ends as `interrupted`, with what was written). */
async function stopTurn(deps: ChatDeps, turn: Turn): Promise<void> {
  const token = deps.store().read().token;
  if (token && turn.conversation) await deps.client.stop(token, turn.conversation).catch(() => {});
}

const onScreen = (state: ChatState, turn: Turn) => state.view === turn.view;

async function conversationFor(deps: ChatDeps, state: ChatState, turn: Turn, text: string): Promise<{ token: string; id: string }> {
  const saved = deps.store().read();
  if (turn.conversation && saved.token) return { token: saved.token, id: turn.conversation };
  const visit = await deps.client.startVisit(saved.token ?? deps.userToken(), saved.label);
  const shown = onScreen(state, turn);
  deps.store().update((s) => {
    s.token = visit.visitor_token;
    s.expires = Date.parse(visit.expires_at);
    if (shown) s.current = visit.conversation_id;
    s.conversations.unshift({ id: visit.conversation_id, title: firstCharacters(text.trim(), TITLE_UNITS), at: Date.now() });
  });
  if (shown) state.shown = visit.conversation_id;
  turn.conversation = visit.conversation_id;
  return { token: visit.visitor_token, id: visit.conversation_id };
}

/** A reply that failed after some of it was shown: its text stays on screen, marked failed, as the server stored it. */
class ReplyKept extends Error {}

async function stream(deps: ChatDeps, state: ChatState, turn: Turn, text: string, key: string): Promise<void> {
  const { token, id } = await conversationFor(deps, state, turn, text);
  const reply = onScreen(state, turn) ? deps.view.add('assistant', '', 'writing') : null;
  let sofar = '';
  try {
    await deps.client.send(token, id, text, key, {
      started() {
        turn.started = true;
        // Stop pressed while the visit or the message was still on its way.
        if (turn.stopWanted) void stopTurn(deps, turn);
      },
      delta(delta) {
        sofar += delta;
        reply?.text(sofar);
      },
      end(stored) {
        reply?.text(stored.content);
        reply?.status(stored.status);
        if (!onScreen(state, turn)) return;
        state.replied = true;
        deps.surface.announce(stored.content, stored.status);
      },
    });
  } catch (error) {
    if (reply && sofar !== '' && error instanceof ApiError && error.status === STREAM_FAILED && !fromGateway(error) && onScreen(state, turn)) {
      reply.status('failed');
      deps.surface.announce(sofar, 'failed');
      throw new ReplyKept();
    }
    throw error;
  }
}

/** One turn at a time in a view: busy (stop shown) from the send until its stream has closed, or the view changes. */
function runTurn(deps: ChatDeps, state: ChatState, turn: Turn, work: () => Promise<void>): void {
  state.busy = true;
  state.replied = false;
  deps.surface.busy(true);
  state.turn = (async () => {
    try {
      await work();
    } catch {
      if (onScreen(state, turn)) deps.surface.error(deps.strings.failure);
    } finally {
      if (onScreen(state, turn)) {
        state.busy = false;
        deps.surface.busy(false);
      }
    }
  })();
}

/** What a refused token or a gone conversation leaves the turn: no conversation, so the next try starts one. */
function forget(deps: ChatDeps, state: ChatState, turn: Turn, why: { shown: boolean; tokenRefused: boolean; known: string | null }): void {
  const { shown, tokenRefused, known } = why;
  deps.store().update((s) => {
    if (tokenRefused) s.token = null;
    else s.conversations = s.conversations.filter((c) => c.id !== known);
    if (shown || s.current === known) s.current = null;
  });
  if (shown) state.shown = null;
  turn.conversation = null;
}

/**
 * Stop, pressed while the turn is on screen. Before the server has begun the reply (a first
 * message waits for its visit to start) a stop found nothing to stop and the whole reply was
 * written: it is kept until then (stream's `started`).
 */
async function stopWhenStarted(deps: ChatDeps, turn: Turn): Promise<void> {
  turn.stopWanted = true;
  if (turn.started) await stopTurn(deps, turn);
}

interface ChatHooks {
  chatbotPage(): Promise<unknown>;
  say(error: unknown): string;
  /** Shows the conversation on screen afresh, waiting again for a reply it is owed. */
  refresh(): Promise<void>;
}

/** Refused before anything was stored: the visitor keeps their words to send later. */
async function refused(deps: ChatDeps, state: ChatState, chat: ChatHooks, error: ApiError, sent: { text: string; mine: Bubble }): Promise<void> {
  const { surface } = deps;
  sent.mine.element.remove();
  surface.restore(sent.text);
  if (error.code === 'origin_not_allowed') {
    state.blocked = true;
    surface.blocked(chat.say(error));
  } else if (error.code === 'conversation_busy') {
    // Another tab's reply is being written here: shown again as it comes, then the words can go.
    await chat.refresh();
    surface.error(chat.say(error));
  } else surface.error(chat.say(error));
}

export function createSending(deps: ChatDeps, state: ChatState, chat: ChatHooks) {
  const { view, surface, strings } = deps;
  /** The last turn sent: what stop applies to while the view is busy with it. */
  let latest: Turn | null = null;

  async function deliver(turn: Turn, text: string, key: string, mine: Bubble, renewed = false): Promise<void> {
    const pending = view.count();
    const known = turn.conversation;
    try {
      await stream(deps, state, turn, text, key);
    } catch (error) {
      if (error instanceof ReplyKept) return;
      const shown = onScreen(state, turn);
      if (shown) view.truncate(pending);
      if (!(error instanceof ApiError)) throw error;
      const tokenRefused = error.status === 401;
      // The visitor token lapsed or was revoked, or the conversation is gone (sent before the
      // widget had heard so): a new conversation carries the message instead, once.
      if ((tokenRefused || (error.status === 404 && known)) && !renewed) {
        forget(deps, state, turn, { shown, tokenRefused, known });
        return deliver(turn, text, idempotencyKey(), mine, true);
      }
      // Out of sight, the conversation shows what the server kept when the visitor goes back to it.
      if (!shown) return;
      // The same key again: a message that did get through is answered from what was stored.
      if (error.status === 0 || fromGateway(error)) return surface.error(strings.offline, () => void retry(turn, text, key, mine));
      if (error.status === STREAM_FAILED) {
        view.add('assistant', '', 'failed');
        return surface.announce('', 'failed');
      }
      await refused(deps, state, chat, error, { text, mine });
    }
  }

  async function retry(turn: Turn, text: string, key: string, mine: Bubble) {
    if (state.busy || !onScreen(state, turn)) return;
    surface.error(null);
    runTurn(deps, state, turn, () => deliver(turn, text, key, mine));
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
      const turn: Turn = { view: state.view, conversation: state.shown };
      latest = turn;
      state.sent += 1;
      runTurn(deps, state, turn, () => deliver(turn, text, idempotencyKey(), mine));
      return true;
    },
    async stop(): Promise<void> {
      if (state.busy && latest && onScreen(state, latest)) await stopWhenStarted(deps, latest);
    },
  };
}
