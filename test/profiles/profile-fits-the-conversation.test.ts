// A chatbot with use_profile sends its owner's whole profile with every turn (§6.2), and the
// conversation's history gets what is left of CONTEXT_TOKEN_BUDGET. The profile's limits were
// set in characters, meant as about 2,500 tokens of English; but in Chinese a character is about
// a token, and a Chinese owner's profile written within every field's limit was 8,800 tokens: more
// than the whole default budget of 8,000. Their portfolio chatbot then answered every message with
// no history at all (it forgot the question asked one message before) and sent more than the
// budget each turn. A profile is now also bounded in tokens, whatever its script: one over the
// bound is refused when it is saved, naming the bound, and every profile that is saved leaves the
// conversation its room.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

const LIMITS = { name: 100, location: 100, bio: 2000, skills: 2000, experience: 4000, interests: 2000 } as const;

const CHINESE = '我們公司專門生產電路板並提供客製化服務，歡迎洽詢合作機會。我喜歡登山、攝影和閱讀歷史小說。';
const ENGLISH =
  'I build reliable software for small teams, mostly web services in TypeScript and Go, and I enjoy teaching what I learn along the way. ';

/** Every field written to its limit in characters, from `text`. */
function fullProfile(text: string, share = 1): Record<string, string> {
  const fill = (length: number) => text.repeat(Math.ceil(length / text.length)).slice(0, Math.floor(length * share)).trim();
  return Object.fromEntries(Object.entries(LIMITS).map(([key, length]) => [key, fill(length)]));
}

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

const putProfile = (user: RegisteredUser, payload: Record<string, string>) =>
  t.request({ method: 'PUT', url: '/v1/profile', headers: bearer(user.accessToken), payload });
const getProfile = (user: RegisteredUser) => t.request({ method: 'GET', url: '/v1/profile', headers: bearer(user.accessToken) });

function expectRefused(response: LightMyRequestResponse) {
  expect(response.statusCode, response.body.slice(0, 300)).toBe(422);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = json(response);
  expect(body.code).toBe('validation_failed');
  expect(body.errors[0].message).toMatch(/tokens/);
  return body;
}

/** Two turns with a use_profile chatbot: what the model was sent on the second. */
async function secondTurnPrompt(owner: RegisteredUser): Promise<string[]> {
  const bot = await createChatbot(t, owner, { name: 'Portfolio', use_profile: true });
  const conversation = await createConversation(t, owner, { chatbot_id: bot.id });
  const first = await sendMessage(t, owner, conversation.id, { content: 'My favourite colour is TEAL-MARKER-42. Please remember it.' });
  expect(first.statusCode, first.body).toBe(201);
  const second = await sendMessage(t, owner, conversation.id, { content: 'What is my favourite colour?' });
  expect(second.statusCode, second.body).toBe(201);
  return fake.requests.at(-1)!.messages.map((message: { content: string }) => message.content);
}

describe('a profile bounded in tokens, so the conversation keeps its room', () => {
  it('refuses a Chinese profile within every field\'s character limit but larger than the bound, and keeps the one saved before', async () => {
    const owner = await registerUser(t);
    const before = { name: '林小明', location: '台北', bio: '', skills: '電路設計', experience: '', interests: '' };
    expect((await putProfile(owner, before)).statusCode).toBe(200);
    expectRefused(await putProfile(owner, fullProfile(CHINESE)));
    expect(json(await getProfile(owner))).toEqual(before);
  });

  it('still takes an English profile written to every field\'s limit', async () => {
    const owner = await registerUser(t);
    const profile = fullProfile(ENGLISH);
    const saved = await putProfile(owner, profile);
    expect(saved.statusCode, saved.body).toBe(200);
    expect(json(saved)).toEqual(profile);
  });

  it.each([
    ['Chinese', CHINESE],
    ['English', ENGLISH],
  ])('a chatbot answering from the largest %s profile the server takes still sends the last turn', async (_script, text) => {
    const owner = await registerUser(t);
    // The largest share of every field's limit that is saved.
    let saved = false;
    for (const share of [1, 0.8, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25]) {
      const response = await putProfile(owner, fullProfile(text, share));
      if (response.statusCode === 200) {
        saved = true;
        break;
      }
      expectRefused(response);
    }
    expect(saved).toBe(true);
    const prompt = await secondTurnPrompt(owner);
    expect(prompt.some((content) => content.includes('TEAL-MARKER-42'))).toBe(true);
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

  it('the bound grows with it: the Chinese profile refused by default is saved', async () => {
    const owner = await registerUser(large);
    const response = await large.request({ method: 'PUT', url: '/v1/profile', headers: bearer(owner.accessToken), payload: fullProfile(CHINESE) });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
  });
});
