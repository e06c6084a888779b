// The inbox's last message is the owner's preview of where each visitor stands. A reply the model
// never gave (502 llm_unavailable: stored `failed`, empty or cut short) was that preview: the row
// read `{role: "assistant", content: ""}`, so the owner saw a blank line, or a fragment as if the
// chatbot had answered, where the visitor was in fact left with a question and no answer. The
// preview now passes over failed replies: the visitor's question shows, from the visitor, as an
// unanswered one does; the next reply that is given is the preview again.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, fakeLlmEnv, parseSse } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, visitorMessages, visitorSend, type Visit } from '../helpers/public.js';

let t: TestApp;
let llm: FakeLlm;
let owner: RegisteredUser;

beforeAll(async () => {
  llm = await startFakeLlm({ reply: (request) => `About "${request.messages.at(-1)?.content ?? ''}": yes, we do.` });
  t = await createTestApp(fakeLlmEnv(llm.url, { LLM_MAX_RETRIES: '0', RATE_LIMIT_PUBLIC_IP: '10000/1m', RATE_LIMIT_PUBLIC_VISITOR: '10000/1m' }));
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
  await llm?.close();
});
beforeEach(() => llm.reset());

interface Row {
  conversation_id: string;
  unread_count: number;
  last_message: { id: string; role: 'user' | 'assistant'; content: string; truncated: boolean } | null;
}

async function rowOf(chatbotId: string, visit: Visit): Promise<Row> {
  const response = await t.request({ method: 'GET', url: `/v1/chatbots/${chatbotId}/conversations`, headers: bearer(owner.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  const row = (json(response).data as Row[]).find((r) => r.conversation_id === visit.conversation_id);
  expect(row).toBeDefined();
  return row!;
}

/** What the conversation holds, oldest first, as the visitor reads it. */
async function stored(visit: Visit) {
  const response = await visitorMessages(t, visit.visitor_token, visit.conversation_id);
  return (json(response).data as Array<{ id: string; role: string; content: string; status: string }>).map(({ id, role, content, status }) => ({ id, role, content, status }));
}

describe('the inbox row of a visitor whose reply failed', () => {
  it("shows the visitor's unanswered question, not the empty failed reply, until a reply is given", async () => {
    const bot = await createChatbot(t, owner, { name: 'Front desk', is_public: true });
    const visit = await startVisit(t, bot.slug, { visitorId: 'browser-1' });

    llm.fail({ kind: 'status', status: 500 });
    const failed = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Do you ship to Norway?' });
    expect(failed.statusCode, failed.body).toBe(502);
    const [question, reply] = await stored(visit);
    expect(reply).toMatchObject({ role: 'assistant', content: '', status: 'failed' });

    expect(await rowOf(bot.id, visit)).toMatchObject({
      unread_count: 1,
      last_message: { id: question!.id, role: 'user', content: 'Do you ship to Norway?', truncated: false },
    });

    const answered = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'And to Iceland?' });
    expect(answered.statusCode, answered.body).toBe(201);
    expect((await rowOf(bot.id, visit)).last_message).toMatchObject({ id: json(answered).reply.id, role: 'assistant', content: json(answered).reply.content });
  });

  it('does not show the fragment of a reply that failed midway as if the chatbot had answered', async () => {
    const bot = await createChatbot(t, owner, { name: 'Front desk 2', is_public: true });
    const visit = await startVisit(t, bot.slug, { visitorId: 'browser-2' });

    llm.fail({ kind: 'stream-error', afterChunks: 2 });
    const streamed = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Is the shop open on Sunday?', stream: true });
    expect(parseSse(streamed.body).map((e) => e.event)).toContain('error');
    const [question, reply] = await stored(visit);
    expect(reply!.status).toBe('failed');
    expect(reply!.content).not.toBe('');

    expect((await rowOf(bot.id, visit)).last_message).toMatchObject({ id: question!.id, role: 'user', content: 'Is the shop open on Sunday?' });
  });
});
