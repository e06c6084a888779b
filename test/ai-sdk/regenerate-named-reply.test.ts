// `regenerate({ messageId })` as `useChat` calls it, with the real chat state of `ai` 6.x and the
// strict ai@5.0.216 (AbstractChat, the class useChat wraps): a regenerate button on an earlier reply
// of a chat. Parley keeps one history per chat and answers its last message again, so a
// regenerate naming an earlier message of the chat is refused (422 on messageId) with nothing
// changed, rather than answered with the reply to another question shown under the one chosen.
import { randomBytes } from 'node:crypto';
import { AbstractChat, DefaultChatTransport, type ChatState, type UIMessage } from 'ai';
import { AbstractChat as AbstractChat5, DefaultChatTransport as Transport5 } from 'ai5';
import { describe, expect, it } from 'vitest';
import { json } from '../helpers/app.js';
import { bearer } from '../helpers/factories.js';
import { aiSdkStage } from './stage.js';
import { CLIENTS, textOf, type ClientName } from './clients.js';

const stage = aiSdkStage();

/** The plain state a framework binding (React, Vue, Svelte) keeps for the chat. */
function plainState(messages: UIMessage[]): ChatState<UIMessage> {
  const state: ChatState<UIMessage> = {
    status: 'ready',
    error: undefined,
    messages,
    pushMessage: (message) => void (state.messages = [...state.messages, message]),
    popMessage: () => void (state.messages = state.messages.slice(0, -1)),
    replaceMessage: (index, message) => void (state.messages = state.messages.map((old, i) => (i === index ? message : old))),
    snapshot: (thing) => structuredClone(thing),
  };
  return state;
}

/** What a test drives: the calls useChat exposes. */
interface ChatLike {
  messages: UIMessage[];
  status: string;
  error: Error | undefined;
  sendMessage(message: { text: string }): Promise<void>;
  regenerate(options?: { messageId?: string }): Promise<void>;
}

function openChat(name: ClientName, id: string, messages: UIMessage[] = []): ChatLike {
  const init = { id, transport: new DefaultChatTransport({ api: `${stage.base }/v1/ai-sdk/chat`, headers: bearer(stage.owner.accessToken) }), onError: () => {} };
  if (name === 'ai6') return new (class extends AbstractChat<UIMessage> {})({ ...init, state: plainState(messages) });
  const init5 = { ...init, transport: new Transport5({ api: `${stage.base }/v1/ai-sdk/chat`, headers: bearer(stage.owner.accessToken) }) };
  const Chat5 = class extends AbstractChat5<never> {};
  return new Chat5({ ...init5, state: plainState(messages) as never }) as unknown as ChatLike;
}

type Stored = { id: string; role: 'user' | 'assistant'; content: string; status: string };
const storedMessages = async (conversationId: string): Promise<Stored[]> => {
  const response = await stage.t.request({ method: 'GET', url: `/v1/conversations/${conversationId }/messages`, headers: bearer(stage.owner.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response).data as Stored[];
};

/** A chat of two turns, as the client holds it, and the conversation it names. */
async function twoTurns(name: ClientName) {
  const chat = openChat(name, `chat_${randomBytes(6).toString('hex')}`);
  await chat.sendMessage({ text: 'Where is the pool?' });
  await chat.sendMessage({ text: 'When does breakfast start?' });
  expect(chat.status).toBe('ready');
  const conversationId = String((chat.messages[1]!.metadata as { conversation_id: string }).conversation_id);
  return { chat, conversationId, before: await storedMessages(conversationId) };
}

describe.each(CLIENTS)('%s: regenerate({ messageId }) in a chat of two turns', (name) => {
  it('of an earlier reply is refused, 422 on messageId; nothing changes and the model is not called', async () => {
    const { chat, conversationId, before } = await twoTurns(name);
    stage.llm.reset();
    await chat.regenerate({ messageId: chat.messages[1]!.id });
    expect(chat.status).toBe('error');
    const problem = JSON.parse(chat.error!.message) as { status: number; code: string; errors: Array<{ path: string }> };
    expect(problem).toMatchObject({ status: 422, code: 'validation_failed', errors: [{ path: 'body.messageId' }] });
    expect(stage.llm.requests).toHaveLength(0);
    expect(await storedMessages(conversationId)).toEqual(before);
    // The chat is not left busy: the next message is answered.
    await chat.sendMessage({ text: 'Is there parking?' });
    expect(chat.status).toBe('ready');
    expect((await storedMessages(conversationId)).map((message) => message.content).slice(4)).toEqual(['Is there parking?', 'You said: Is there parking?']);
  });

  it('of an earlier user message loaded from the history is refused the same way', async () => {
    const { chat, conversationId, before } = await twoTurns(name);
    // A page reloaded: the chat is rebuilt from the stored history, with the stored ids.
    const loaded: UIMessage[] = before.map((message) => ({ id: message.id, role: message.role, parts: [{ type: 'text', text: message.content }] }));
    const reloaded = openChat(name, (chat as unknown as { id: string }).id, loaded);
    stage.llm.reset();
    await reloaded.regenerate({ messageId: loaded[0]!.id });
    expect(reloaded.status).toBe('error');
    expect(JSON.parse(reloaded.error!.message)).toMatchObject({ status: 422, errors: [{ path: 'body.messageId' }] });
    expect(stage.llm.requests).toHaveLength(0);
    expect(await storedMessages(conversationId)).toEqual(before);
  });

  it('of the last reply, or of the message it answers, answers that message again', async () => {
    const { chat, conversationId, before } = await twoTurns(name);
    await chat.regenerate({ messageId: chat.messages[3]!.id });
    expect(chat.status).toBe('ready');
    expect(textOf(chat.messages[3]!)).toBe('You said: When does breakfast start?');
    await chat.regenerate({ messageId: chat.messages[2]!.id });
    expect(chat.status).toBe('ready');
    expect(chat.messages.map(textOf)).toEqual(['Where is the pool?', 'You said: Where is the pool?', 'When does breakfast start?', 'You said: When does breakfast start?']);
    const after = await storedMessages(conversationId);
    expect(after.map((message) => message.content)).toEqual(before.map((message) => message.content));
    expect(after[3]!.id).toBe(chat.messages[3]!.id);
    expect(chat.messages[3]!.metadata).toMatchObject({ conversation_id: conversationId, status: 'complete' });
  });
});
