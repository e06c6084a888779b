// A public chatbot made private while a visitor's reply is being written (§7): the owner closed
// it to the public, so it stops talking to visitors now, as a deleted chatbot does, not when the
// reply would have ended. The visitor's stream ends like a stopped one (message.end, the reply
// `interrupted`, what was written kept); the owner's own conversation with the chatbot, which a
// private chatbot still answers, is written to its end.
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, listen, parseSse } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startVisit } from '../helpers/public.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

let t: TestApp;
let llm: FakeLlm;
let base: string;

beforeAll(async () => {
  llm = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(llm.url, { RATE_LIMIT_PUBLIC_IP: '10000/1m', RATE_LIMIT_PUBLIC_VISITOR: '10000/1m' }));
  base = await listen(t);
});
afterAll(async () => {
  await t?.close();
  await llm?.close();
});
beforeEach(() => llm.reset());

const QUESTION = 'Please tell me everything about your opening hours, prices, delivery, returns and warranty';

/** Streams a turn over HTTP; resolves `firstText` once the first text arrives, `body` at the end. */
function streamTurn(url: string, token: string) {
  let seenText: () => void = () => {};
  const firstText = new Promise<void>((resolve) => (seenText = resolve));
  const body = (async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ content: QUESTION, stream: true }),
    });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
      if (text.includes('event: message.delta')) seenText();
    }
  })();
  return { firstText, body };
}

const endOf = (body: string) => parseSse(body).find((event) => event.event === 'message.end')?.data.reply;

it("stops a visitor's reply when the chatbot is made private, and finishes the owner's own", async () => {
  const owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Front desk', is_public: true });
  const visit = await startVisit(t, bot.slug);
  const own = await createConversation(t, owner, { chatbot_id: bot.id });
  // Each word of the reply a fifth of a second apart: about 5 s in all.
  llm.setDelays({ firstTokenDelayMs: 50, chunkDelayMs: 200 });

  const visitor = streamTurn(`${base}/v1/public/conversations/${visit.conversation_id}/messages`, visit.visitor_token);
  const owners = streamTurn(`${base}/v1/conversations/${own.id}/messages`, owner.accessToken);
  await Promise.all([visitor.firstText, owners.firstText]);
  const made = await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { is_public: false } });
  expect(made.statusCode).toBe(200);

  const [visitorReply, ownerReply] = [endOf(await visitor.body), endOf(await owners.body)];
  expect(ownerReply).toMatchObject({ status: 'complete', content: `You said: ${QUESTION}` });
  expect(visitorReply.status).toBe('interrupted');
  expect(`You said: ${QUESTION}`.startsWith(visitorReply.content)).toBe(true);
  expect(visitorReply.content.length).toBeLessThan(ownerReply.content.length);
  // Stored as it was streamed, seen by the owner.
  const stored = await t.request({ method: 'GET', url: `/v1/conversations/${visit.conversation_id}/messages`, headers: bearer(owner.accessToken) });
  expect(json(stored).data.at(-1)).toMatchObject({ id: visitorReply.id, status: 'interrupted', content: visitorReply.content });
});
