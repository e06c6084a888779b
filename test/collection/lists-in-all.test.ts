// A conversation's lists hold at most 500,000 characters of the user's text together. Each turn's
// additions were bounded and their sum was not: a model's extractions filled one list with 10 MB
// over some 780 turns, and every later turn held the server's event loop 450 ms reading and
// writing it. Past the bound the user is told the form is full; fields that are not lists, and a
// list's first item, are still taken, so the form can still be completed.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

let fake: FakeLlm;
let model: TestApp;
let builtin: TestApp;
let script: unknown = {};

const PARTS = Array.from({ length: 20 }, (_, i) => ({ key: `part_${i}`, label: `part ${i}`, type: 'string' }));
const LIMIT = 500_000;

beforeAll(async () => {
  fake = await startFakeLlm();
  model = await createTestApp(fakeLlmEnv(fake.url));
  builtin = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '100000/1m' });
});
beforeEach(() => {
  fake.reset();
  fake.setExtraction(() => script);
});
afterAll(async () => {
  await model?.close();
  await builtin?.close();
  await fake?.close();
});

/** Distinct words, so every stretch of the text differs from every other. */
function words(length: number, from = 0): string {
  let text = '';
  for (let i = from; text.length < length; i++) text += `w${i.toString(36)} `;
  return text.slice(0, length);
}

type Data = { data: Record<string, unknown>; completed: boolean };
const dataOf = async (t: TestApp, user: RegisteredUser, id: string): Promise<Data> =>
  json(await t.request({ method: 'GET', url: `/v1/conversations/${id}/data`, headers: bearer(user.accessToken) })) as Data;

/** The user's text the items hold, as the bound counts it (numbers and the owner's words aside). */
const textOf = (items: unknown): number =>
  ((items as Array<Record<string, unknown>> | undefined) ?? []).reduce((sum, item) => sum + Object.values(item).reduce((n: number, v) => n + String(v).length, 0), 0);

describe("a conversation's lists, filled through a model", () => {
  it('hold at most 500,000 characters together, the user told the form is full, other fields still taken', { timeout: 180_000 }, async () => {
    const user = await registerUser(model);
    const collect = {
      fields: [
        { key: 'contact_email', label: 'contact email', type: 'email', required: true },
        { key: 'products', label: 'products', type: 'list', item_fields: PARTS },
        { key: 'partners', label: 'partners', type: 'list', required: true, item_fields: [{ key: 'name', label: 'name', type: 'string', required: true }] },
      ],
    };
    const chatbot = await createChatbot(model, user, { name: 'Catalogue bot', collect });
    const { id } = await createConversation(model, user, { chatbot_id: chatbot.id });
    // Ten turns, each stating 50 items of 20 parts of 60 characters (60,000: what one turn may store).
    for (let round = 0; round < 10; round++) {
      const message = words(30_000, round * 10_000);
      const products = Array.from({ length: 50 }, (_, k) => Object.fromEntries(PARTS.map((part, j) => [part.key, message.slice((k * 20 + j) * 30, (k * 20 + j) * 30 + 60)])));
      script = { products };
      const response = await sendMessage(model, user, id, { content: message });
      expect(response.statusCode, response.body).toBe(201);
    }
    const full = await dataOf(model, user, id);
    expect(textOf(full.data.products)).toBeLessThanOrEqual(LIMIT);
    expect(textOf(full.data.products)).toBeGreaterThan(LIMIT - 1_200);
    const chat = fake.requests.filter((request) => !request.body?.response_format && !request.body?.tools);
    const system = chat.at(-1)!.messages.filter((message) => message.role === 'system').map((message) => message.content).join('\n');
    expect(system).toContain('the form is full (its lists hold at most 500,000 characters in all)');

    // The email, and the first item of the other (required) list, still complete the form.
    script = { contact_email: 'kim@acme.example', partners: [{ name: 'Harbour Freight' }] };
    const last = await sendMessage(model, user, id, { content: 'Write to kim@acme.example; our partner is Harbour Freight.' });
    expect(last.statusCode, last.body).toBe(201);
    const done = await dataOf(model, user, id);
    expect(done.data.contact_email).toBe('kim@acme.example');
    expect(done.data.partners).toEqual([{ name: 'Harbour Freight' }]);
    expect(done.completed).toBe(true);
  });
});

describe('a list the builtin responder gathers', () => {
  it('stops at 500,000 characters in all, saying the form is full, and keeps every item it said it added', { timeout: 180_000 }, async () => {
    const owner = await registerUser(builtin);
    const collect = { fields: [{ key: 'notes', label: 'notes', type: 'list', required: true, item_fields: PARTS.map((part) => ({ ...part, required: true })) }] };
    const chatbot = await createChatbot(builtin, owner, { collect });
    const { id } = await createConversation(builtin, owner, { chatbot_id: chatbot.id });
    const replies: string[] = [];
    // Items of 20 parts of 999 characters (each part one message): the 26th passes the bound.
    const parts = Array.from({ length: 26 * PARTS.length }, (_, i) => words(999, i * 300));
    for (const content of ['hello', ...parts]) {
      const response = await sendMessage(builtin, owner, id, { content });
      expect(response.statusCode, response.body).toBe(201);
      replies.push(json(response).reply.content as string);
    }
    const { data, completed } = await dataOf(builtin, owner, id);
    expect(textOf(data.notes)).toBeLessThanOrEqual(LIMIT);
    expect(data.notes).toHaveLength(25);
    expect(replies.at(-1)).toContain('the form is full (its lists hold at most 500,000 characters in all)');
    expect(replies.filter((reply) => /^Added /u.test(reply))).toHaveLength(25);
    expect(completed).toBe(true);
  });
});
