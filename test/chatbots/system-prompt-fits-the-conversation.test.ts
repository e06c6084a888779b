// A chatbot's system prompt is sent with every turn (§6.2), and the conversation's history gets
// what is left of CONTEXT_TOKEN_BUDGET (8,000 by default). The prompt's limit, 20,000 characters,
// is about 4,000 tokens of English; in Chinese a character is about a token, and an owner who
// pasted a 10,000-character FAQ into a chatbot's instructions (half the limit) had a chatbot that
// answered every message with no history at all: it forgot what it was told one message before.
// A system prompt is now also bounded in tokens, whatever its script, when it is written (create
// or change): one over the bound is refused naming the bound, and every one that is taken leaves
// the conversation its room.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

const CHINESE = '本店營業時間為週一至週五上午九點到下午六點，週末公休。退貨須於購買後七日內辦理，並附上發票。';
const ENGLISH = 'Our shop is open Monday to Friday from nine to six and closed at weekends. Returns are accepted within seven days with a receipt. ';

const prompt = (text: string, length: number) => text.repeat(Math.ceil(length / text.length)).slice(0, length);

let fake: FakeLlm;
let t: TestApp;
beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
});
afterEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const post = (user: RegisteredUser, payload: Record<string, unknown>) =>
  t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(user.accessToken), payload: { name: 'Shop', ...payload } });
const patch = (user: RegisteredUser, id: string, payload: Record<string, unknown>) =>
  t.request({ method: 'PATCH', url: `/v1/chatbots/${id}`, headers: bearer(user.accessToken), payload });

function expectRefused(response: LightMyRequestResponse) {
  expect(response.statusCode, response.body.slice(0, 300)).toBe(422);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = json(response);
  expect(body.code).toBe('validation_failed');
  expect(body.errors[0].path).toBe('body.system_prompt');
  expect(body.errors[0].message).toMatch(/tokens/);
}

/** Two turns: whether the second one's prompt still holds the first message. */
async function remembers(owner: RegisteredUser, chatbotId: string): Promise<boolean> {
  const conversation = await createConversation(t, owner, { chatbot_id: chatbotId });
  const first = await sendMessage(t, owner, conversation.id, { content: 'My order number is ORDER-MARKER-77. Please keep it in mind.' });
  expect(first.statusCode, first.body).toBe(201);
  const second = await sendMessage(t, owner, conversation.id, { content: 'What was my order number?' });
  expect(second.statusCode, second.body).toBe(201);
  return fake.requests.at(-1)!.messages.some((message: { content: string }) => message.content.includes('ORDER-MARKER-77'));
}

describe('a system prompt bounded in tokens, so the conversation keeps its room', () => {
  it('refuses a Chinese system prompt of half the character limit, at creation and in a change, storing nothing', async () => {
    const owner = await registerUser(t);
    const before = await t.count('chatbots');
    expectRefused(await post(owner, { system_prompt: prompt(CHINESE, 10_000) }));
    expect(await t.count('chatbots')).toBe(before);

    const bot = await createChatbot(t, owner, { name: 'Shop', system_prompt: 'Answer questions about the shop.' });
    expectRefused(await patch(owner, bot.id, { system_prompt: prompt(CHINESE, 10_000), greeting: 'Hello' }));
    const now = json(await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) }));
    expect(now.system_prompt).toBe('Answer questions about the shop.');
    expect(now.greeting).toBe('');
  });

  it('keeps a long system prompt stored before the bound when a change sends it back unchanged', async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Shop' });
    const stored = prompt(CHINESE, 10_000);
    await t.database.sql.query('UPDATE chatbots SET system_prompt = $1 WHERE id = $2', [stored, bot.id]);
    const response = await patch(owner, bot.id, { system_prompt: stored, greeting: 'Hello' });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
    expect(json(response).greeting).toBe('Hello');
    expectRefused(await patch(owner, bot.id, { system_prompt: `${stored}!` }));
  });

  it('still takes an English system prompt of the whole character limit', async () => {
    const owner = await registerUser(t);
    const response = await post(owner, { system_prompt: prompt(ENGLISH, 20_000) });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(201);
    expect(json(response).system_prompt).toHaveLength(20_000);
  });

  it.each([
    ['Chinese', CHINESE],
    ['English', ENGLISH],
  ])('a chatbot with the longest %s system prompt the server takes remembers the last turn', async (_script, text) => {
    const owner = await registerUser(t);
    let id: string | null = null;
    for (const length of [20_000, 10_000, 8_000, 6_000, 5_000, 4_000]) {
      const response = await post(owner, { system_prompt: prompt(text, length) });
      if (response.statusCode === 201) {
        id = json(response).id;
        break;
      }
      expectRefused(response);
    }
    expect(id).not.toBeNull();
    expect(await remembers(owner, id!)).toBe(true);
  });
});

describe('on a server with a larger context budget', () => {
  let large: TestApp;
  beforeAll(async () => {
    large = await createTestApp(fakeLlmEnv(fake.url, { CONTEXT_TOKEN_BUDGET: '32000' }));
  });
  afterAll(async () => {
    await large?.close();
  });

  it('the bound grows with it: the Chinese prompt refused by default is taken', async () => {
    const owner = await registerUser(large);
    const response = await large.request({
      method: 'POST',
      url: '/v1/chatbots',
      headers: bearer(owner.accessToken),
      payload: { name: 'Shop', system_prompt: prompt(CHINESE, 10_000) },
    });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(201);
  });
});
