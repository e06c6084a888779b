// A message sent the moment the reply before it was stopped. useChat's stop() aborts the request,
// and an app that then sends (or regenerates) at once got 409 conversation_busy, "wait for it or
// stop it", though it had just stopped it: the stopped reply is stored a moment after the client
// leaves, and the conversation was held until then; a visitor whose streamed request was cut and
// who sent again at once was refused the same way. Now a turn that finds the conversation held by a reply this
// instance is ending waits for it to be stored, then starts: the stopped reply is kept once, as
// interrupted, and the new turn follows it. A reply still running (not stopped) still answers 409.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { json } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer } from '../helpers/factories.js';
import { aiSdkStage } from './stage.js';
import { startVisit } from '../helpers/public.js';
import { type Chunk, client, collect, conversationOf, dataFrames, until, userMessage } from './clients.js';

const stage = aiSdkStage({ RATE_LIMIT_PUBLIC_IP: '10000/1m', RATE_LIMIT_PUBLIC_VISITOR: '10000/1m', RATE_LIMIT_PUBLIC_CHATBOT: '10000/1m' });

const chatId = () => `chat_${randomBytes(6).toString('hex')}`;
const slowly = () => {
  stage.llm.setReply(() => Array.from({ length: 200 }, (_, i) => `word${i}`).join(' '));
  stage.llm.setDelays({ chunkDelayMs: 40 });
};
const quickly = () => {
  stage.llm.setReply(undefined);
  stage.llm.setDelays({ chunkDelayMs: 0 });
};
const messagesOf = async (conversationId: string) => {
  const response = await stage.t.request({ method: 'GET', url: `/v1/conversations/${conversationId }/messages`, headers: bearer(stage.owner.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response).data as Array<{ id: string; role: string; content: string; status: string }>;
};
/** The reply's text in a raw UI message stream. */
const streamedText = (body: string) =>
  dataFrames(body)
    .filter((frame) => frame !== '[DONE]')
    .map((frame) => JSON.parse(frame) as Chunk)
    .filter((chunk) => chunk.type === 'text-delta')
    .map((chunk) => chunk.delta)
    .join('');
const aiSdk = (body: Record<string, unknown>) =>
  fetch(`${stage.base}/v1/ai-sdk/chat`, { method: 'POST', headers: { ...bearer(stage.owner.accessToken), 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A slow reply started through the AI SDK client, once its first words arrived; `abort` is useChat's stop(). */
async function slowTurn(id: string) {
  slowly();
  const abort = new AbortController();
  const seen: Chunk[] = [];
  const stream = await client('ai6', stage.base, { headers: bearer(stage.owner.accessToken) }).send({ chatId: id, messages: [userMessage('talk slowly')], abortSignal: abort.signal });
  collect(stream, (chunk) => seen.push(chunk)).catch(() => {});
  await until(() => seen.filter((chunk) => chunk.type === 'text-delta').length >= 2, 'the first words');
  quickly();
  return { abort, conversationId: conversationOf(seen) };
}

describe('useChat: stop(), then at once', () => {
  it.each([1, 2, 3])('sendMessage is answered, after the stopped reply kept once as interrupted (round %i)', async () => {
    const id = chatId();
    const { abort, conversationId } = await slowTurn(id);
    abort.abort();
    const next = await aiSdk({ id, messages: [userMessage('talk slowly'), userMessage('never mind, hello')] });
    expect(next.status, next.status === 200 ? '' : await next.clone().text()).toBe(200);
    expect(streamedText(await next.text())).toBe('You said: never mind, hello');
    const stored = await messagesOf(conversationId);
    expect(stored.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'interrupted'],
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    expect(stored[2]!.content).toBe('never mind, hello');
  });

  it('regenerate is answered, replacing the stopped reply', async () => {
    const id = chatId();
    const { abort, conversationId } = await slowTurn(id);
    abort.abort();
    const again = await aiSdk({ id, trigger: 'regenerate-message', messages: [userMessage('talk slowly')] });
    expect(again.status, again.status === 200 ? '' : await again.clone().text()).toBe(200);
    expect(streamedText(await again.text())).toBe('You said: talk slowly');
    const stored = await messagesOf(conversationId);
    expect(stored.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
  });

  it('a reply nobody stopped still holds its chat: 409 conversation_busy', async () => {
    const id = chatId();
    const { abort, conversationId } = await slowTurn(id);
    slowly();
    const busy = await aiSdk({ id, messages: [userMessage('me too')] });
    expect(busy.status).toBe(409);
    expect(((await busy.json()) as { code: string }).code).toBe('conversation_busy');
    abort.abort();
    await until(async () => (await messagesOf(conversationId)).length === 2, 'the stopped reply');
  });
});

describe('a visitor', () => {
  /** A visitor's streamed turn, once its first words arrived. */
  async function visitorTurn() {
    const bot = await createChatbot(stage.t, stage.owner, { name: 'Shop', is_public: true });
    const visit = await startVisit(stage.t, bot.slug);
    const url = `${stage.base}/v1/public/conversations/${visit.conversation_id}`;
    const headers = { ...bearer(visit.visitor_token), 'content-type': 'application/json' };
    slowly();
    const abort = new AbortController();
    const streamed = await fetch(`${url}/messages`, { method: 'POST', headers, body: JSON.stringify({ content: 'talk slowly', stream: true }), signal: abort.signal });
    const reader = streamed.body!.getReader();
    let text = '';
    while (!text.includes('message.delta')) text += new TextDecoder().decode((await reader.read()).value);
    quickly();
    const send = async (content: string) => {
      const next = await fetch(`${url}/messages`, { method: 'POST', headers, body: JSON.stringify({ content }) });
      expect(next.status, await next.clone().text()).toBe(201);
      expect(((await next.json()) as { reply: { content: string } }).reply.content).toBe(`You said: ${content}`);
      await reader.cancel().catch(() => {});
      const stored = await messagesOf(visit.conversation_id);
      expect(stored.map((m) => [m.role, m.status])).toEqual([
        ['user', 'complete'],
        ['assistant', 'interrupted'],
        ['user', 'complete'],
        ['assistant', 'complete'],
      ]);
    };
    return { url, headers, abort, send };
  }

  it('whose streamed request was cut, sending again at once, is answered after the stopped reply', async () => {
    const turn = await visitorTurn();
    turn.abort.abort();
    await turn.send('hello again');
  });

  it("whose widget pressed stop, sending at once, is answered after the stopped reply", async () => {
    const turn = await visitorTurn();
    const stop = await fetch(`${turn.url}/stop`, { method: 'POST', headers: turn.headers, body: '{ }' });
    expect(await stop.json()).toEqual({ stopped: true });
    await turn.send('hello again');
  });
});
