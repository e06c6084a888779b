// A visitor feeding a collecting bot whose model extracts list items. The model's output is
// untrusted (a message can tell it what to answer), and each value it gives needs only to be
// somewhere in the user's message: the same 30,000 characters held thousands of different
// 1,000-character values at different offsets, so one message stored about 1 MB of items and the
// next another, without end, every turn reading and rewriting all of it. The builtin responder
// gathers at most 500 items a list; the model path had no bound at all.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

let fake: FakeLlm;
let t: TestApp;
let script: unknown = {};

const ITEM_FIELDS = Array.from({ length: 20 }, (_, i) => ({ key: `part_${i}`, label: `part ${i}`, type: 'string' }));
const COLLECT = {
  fields: [
    { key: 'contact_email', label: 'contact email', type: 'email', required: true },
    { key: 'products', label: 'products', type: 'list', item_fields: ITEM_FIELDS },
  ],
};

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
});
beforeEach(() => {
  fake.reset();
  fake.setExtraction(() => script);
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

async function collecting(): Promise<{ user: RegisteredUser; id: string }> {
  const user = await registerUser(t);
  const chatbot = await createChatbot(t, user, { name: 'Catalogue bot', collect: COLLECT });
  const conversation = await createConversation(t, user, { chatbot_id: chatbot.id });
  return { user, id: conversation.id };
}

async function turn(user: RegisteredUser, id: string, content: string, products: unknown[]) {
  script = { contact_email: null, products };
  const response = await sendMessage(t, user, id, { content });
  expect(response.statusCode, response.body).toBe(201);
}

const dataOf = async (user: RegisteredUser, id: string) =>
  json(await t.request({ method: 'GET', url: `/v1/conversations/${id}/data`, headers: bearer(user.accessToken) })).data as { products?: unknown[] };

/** Distinct words, so every stretch of the text differs from every other. */
function words(length: number): string {
  let text = '';
  for (let i = 0; text.length < length; i++) text += `w${i.toString(36)} `;
  return text.slice(0, length);
}

describe('list items a model extracts', () => {
  it('store no more text in one turn than the message holds, twice over', { timeout: 60_000 }, async () => {
    const { user, id } = await collecting();
    const message = words(30_000);
    // 50 items of 20 parts, each a different 1,000-character stretch of the message: all "stated".
    const items = Array.from({ length: 50 }, (_, k) => Object.fromEntries(ITEM_FIELDS.map((field, j) => [field.key, message.slice(k * 20 + j, k * 20 + j + 1000)])));
    await turn(user, id, message, items);
    const stored = await dataOf(user, id);
    expect(JSON.stringify(stored).length).toBeLessThan(2 * message.length + 4_000);
    expect(stored.products!.length).toBeGreaterThan(0);
  });

  it('are at most 500 in a list, as the builtin responder gathers', { timeout: 120_000 }, async () => {
    const { user, id } = await collecting();
    for (let round = 0; round < 11; round++) {
      const names = Array.from({ length: 50 }, (_, k) => `p${round}x${k}`);
      await turn(user, id, `Our products: ${names.join(', ')}.`, names.map((name) => ({ part_0: name })));
    }
    const data = await dataOf(user, id);
    expect(data.products).toHaveLength(500);
    // The reply of the turn that passed the bound is told why, to tell the user.
    const chat = fake.requests.filter((request) => !request.body?.response_format && !request.body?.tools);
    const system = chat.at(-1)!.messages.filter((message) => message.role === 'system').map((message) => message.content).join('\n');
    expect(system).toContain('the list is full (at most 500 items)');
  });
});
