import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

// §5 Knowledge, §12 Knowledge, §6.3 the builtin responder answering from knowledge.

let t: TestApp;
let owner: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
});
afterAll(async () => {
  await t.close();
});

function expectProblem(response: LightMyRequestResponse, status: number, code?: string) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = json(response);
  if (code) expect(body.code).toBe(code);
  return body;
}

const addDocument = (chatbotId: string, payload: unknown, user: RegisteredUser = owner) =>
  t.request({ method: 'POST', url: `/v1/chatbots/${chatbotId}/knowledge`, headers: bearer(user.accessToken), payload: payload as object });
const listDocuments = (chatbotId: string, query = '', user: RegisteredUser = owner) =>
  t.request({ method: 'GET', url: `/v1/chatbots/${chatbotId}/knowledge${query}`, headers: bearer(user.accessToken) });
const deleteDocument = (chatbotId: string, documentId: string, user: RegisteredUser = owner) =>
  t.request({ method: 'DELETE', url: `/v1/chatbots/${chatbotId}/knowledge/${documentId}`, headers: bearer(user.accessToken) });

async function added(chatbotId: string, title: string, content: string) {
  const response = await addDocument(chatbotId, { title, content });
  expect(response.statusCode, response.body).toBe(201);
  return json(response);
}

/** Asks in a fresh conversation of the chatbot and returns the reply's text. */
async function ask(chatbotId: string, question: string): Promise<string> {
  const conversation = await createConversation(t, owner, { chatbot_id: chatbotId });
  const response = await sendMessage(t, owner, conversation.id, { content: question });
  expect(response.statusCode, response.body).toBe(201);
  const reply = json(response).reply;
  expect(reply.status).toBe('complete');
  return reply.content as string;
}

const HOURS = 'Shop opening hours: Monday to Friday 9:00–17:00, Saturday 10:00–14:00, closed Sunday.';
const RETURNS = 'Returns: send items back within 30 days with the receipt for a full refund.';

function longMarkdown(): string {
  const sections: string[] = ['# Employee handbook\n'];
  const topics = ['Onboarding', 'Equipment', 'Holidays', 'Expenses', 'Security', 'Travel', 'Training', 'Leaving'];
  for (const topic of topics) {
    sections.push(`## ${topic}\n`);
    for (let p = 0; p < 3; p++) {
      sections.push(
        `The ${topic.toLowerCase()} rules, part ${p + 1}: every employee reads this paragraph carefully, asks their manager ` +
          `when something about ${topic.toLowerCase()} is unclear, and keeps a written record of each decision taken, ` +
          `including the date, the people involved, the reason for the decision and any follow-up that was agreed.\n`,
      );
    }
  }
  return sections.join('\n');
}

describe('POST /v1/chatbots/{id}/knowledge', () => {
  it('stores a document and answers 201 {id, title, chunk_count, created_at}', async () => {
    const bot = await createChatbot(t, owner, { name: 'Docs' });
    const response = await addDocument(bot.id, { title: 'Opening hours', content: HOURS });
    expect(response.statusCode, response.body).toBe(201);
    const doc = json(response);
    expect(Object.keys(doc).sort()).toEqual(['chunk_count', 'created_at', 'id', 'title']);
    expect(doc.title).toBe('Opening hours');
    expect(doc.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(doc.chunk_count).toBeGreaterThanOrEqual(1);
    expect(new Date(doc.created_at).toISOString()).toBe(doc.created_at);
  });

  it('splits a long Markdown document into several chunks', async () => {
    const bot = await createChatbot(t, owner, { name: 'Handbook' });
    const doc = await added(bot.id, 'Handbook', longMarkdown());
    expect(doc.chunk_count).toBeGreaterThan(1);
    const rows = await t.database.sql.query<{ n: number | string }>('SELECT count(*) AS n FROM knowledge_chunks WHERE document_id = $1', [doc.id]);
    expect(Number(rows[0]!.n)).toBe(doc.chunk_count);
  });

  it.each<[string, unknown]>([
    ['no title', { content: 'Some content' }],
    ['no content', { title: 'A title' }],
    ['an empty title', { title: '', content: 'Some content' }],
    ['a blank title', { title: '   \t', content: 'Some content' }],
    ['empty content', { title: 'A title', content: '' }],
    ['blank content', { title: 'A title', content: ' \n\n\t ' }],
    ['an unknown field', { title: 'A title', content: 'Some content', tags: ['x'] }],
    ['a number as content', { title: 'A title', content: 42 }],
  ])('answers 422 to %s and stores nothing', async (_label, payload) => {
    const bot = await createChatbot(t, owner, { name: 'Strict' });
    expectProblem(await addDocument(bot.id, payload), 422, 'validation_failed');
    expect(json(await listDocuments(bot.id)).data).toEqual([]);
  });

  it('answers 404 for a chatbot that does not exist', async () => {
    expectProblem(await addDocument('0190f5a0-0000-7000-8000-000000000000', { title: 'T', content: 'C' }), 404, 'not_found');
    expectProblem(await addDocument('not-a-uuid', { title: 'T', content: 'C' }), 404, 'not_found');
  });
});

describe('GET and DELETE /v1/chatbots/{id}/knowledge', () => {
  it('lists the documents newest first, page by page', async () => {
    const bot = await createChatbot(t, owner, { name: 'Library' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await added(bot.id, `Doc ${i}`, `Content number ${i}`)).id);

    const first = await listDocuments(bot.id, '?limit=2');
    expect(first.statusCode).toBe(200);
    const page1 = json(first);
    expect(page1.data).toHaveLength(2);
    expect(page1.next_cursor).toEqual(expect.any(String));
    const page2 = json(await listDocuments(bot.id, `?limit=2&cursor=${encodeURIComponent(page1.next_cursor)}`));
    expect(page2.next_cursor).toBeNull();
    const seen = [...page1.data, ...page2.data];
    expect(seen.map((doc: { id: string }) => doc.id)).toEqual([...ids].reverse());
    expect(seen.map((doc: { title: string }) => doc.title)).toEqual(['Doc 2', 'Doc 1', 'Doc 0']);
    expect(seen[0]).toEqual({ id: ids[2], title: 'Doc 2', chunk_count: 1, created_at: expect.any(String) });
    expectProblem(await listDocuments(bot.id, '?cursor=garbage'), 422, 'validation_failed');
  });

  it('deletes a document: 204, gone from the list, then 404', async () => {
    const bot = await createChatbot(t, owner, { name: 'Shredder' });
    const doc = await added(bot.id, 'Temporary', 'Short-lived words');
    const kept = await added(bot.id, 'Kept', 'Long-lived words');
    const response = await deleteDocument(bot.id, doc.id);
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect(json(await listDocuments(bot.id)).data.map((d: { id: string }) => d.id)).toEqual([kept.id]);
    expectProblem(await deleteDocument(bot.id, doc.id), 404, 'not_found');
    expectProblem(await deleteDocument(bot.id, 'not-a-uuid'), 404, 'not_found');
    const chunks = await t.database.sql.query('SELECT id FROM knowledge_chunks WHERE document_id = $1', [doc.id]);
    expect(chunks).toHaveLength(0);
  });

  it('answers 404 when the document belongs to another chatbot of yours', async () => {
    const one = await createChatbot(t, owner, { name: 'One' });
    const two = await createChatbot(t, owner, { name: 'Two' });
    const doc = await added(one.id, 'Belongs to one', 'Only chatbot one has this');
    expectProblem(await deleteDocument(two.id, doc.id), 404, 'not_found');
    expect(json(await listDocuments(one.id)).data).toHaveLength(1);
  });
});

describe('the builtin responder answers from knowledge', () => {
  it('replies with the matching document for each question', async () => {
    const bot = await createChatbot(t, owner, { name: 'Shop FAQ' });
    await added(bot.id, 'Opening hours', HOURS);
    await added(bot.id, 'Returns policy', RETURNS);

    const aboutReturns = await ask(bot.id, 'How do returns work, can I get a refund?');
    expect(aboutReturns).toContain('within 30 days');
    expect(aboutReturns).not.toContain('Saturday');

    const aboutHours = await ask(bot.id, 'What are your opening hours on Saturday?');
    expect(aboutHours).toContain('Saturday 10:00–14:00');
    expect(aboutHours).not.toContain('30 days');
  });

  it('finds a Chinese document from a Chinese question sharing a word', async () => {
    const bot = await createChatbot(t, owner, { name: '公司介紹' });
    await added(bot.id, '公司簡介', '我們的公司生產電路板，工廠位於台北。');
    await added(bot.id, '付款', '我們接受信用卡和銀行轉帳付款。');
    const reply = await ask(bot.id, '你們有做電路板嗎？');
    expect(reply).toContain('我們的公司生產電路板，工廠位於台北。');
    expect(reply).not.toContain('信用卡');
  });

  it('finds a Bengali document from a Bengali question sharing a word', async () => {
    const bot = await createChatbot(t, owner, { name: 'দোকান' });
    const text = 'আমাদের দোকান সকাল নয়টায় খোলে এবং রাত আটটায় বন্ধ হয়।';
    await added(bot.id, 'সময়সূচি', text);
    await added(bot.id, 'ডেলিভারি', 'ঢাকার ভেতরে ডেলিভারি দুই দিনে পৌঁছায়।');
    const reply = await ask(bot.id, 'দোকান কখন খোলে?');
    expect(reply).toContain(text);
    expect(reply).not.toContain('ডেলিভারি');
  });

  it('stops answering from a document once it is deleted', async () => {
    const bot = await createChatbot(t, owner, { name: 'Forgetful' });
    const doc = await added(bot.id, 'Parking', 'Free parking is available behind the warehouse on Elm Street.');
    const question = 'Where is the parking?';
    expect(await ask(bot.id, question)).toContain('behind the warehouse');

    expect((await deleteDocument(bot.id, doc.id)).statusCode).toBe(204);
    const after = await ask(bot.id, question);
    expect(after).not.toContain('behind the warehouse');
    expect(after.length).toBeGreaterThan(0);
  });

  it('answers a greeting with the chatbot\'s greeting, and an unknown question with the fallback', async () => {
    const bot = await createChatbot(t, owner, { name: 'Greeter', greeting: 'Welcome to Acme! Ask me about our shop.' });
    await added(bot.id, 'Returns policy', RETURNS);
    expect(await ask(bot.id, 'hello')).toBe('Welcome to Acme! Ask me about our shop.');
    const unknown = await ask(bot.id, 'Zebras migrate?');
    expect(unknown).not.toContain('30 days');
    expect(unknown).not.toBe('Welcome to Acme! Ask me about our shop.');
    expect(unknown.length).toBeGreaterThan(0);
  });

  it('never answers from another chatbot\'s knowledge', async () => {
    const withDocs = await createChatbot(t, owner, { name: 'Informed' });
    const without = await createChatbot(t, owner, { name: 'Blank' });
    await added(withDocs.id, 'Warranty', 'Every kettle has a two-year warranty.');
    expect(await ask(withDocs.id, 'Is there a kettle warranty?')).toContain('two-year warranty');
    expect(await ask(without.id, 'Is there a kettle warranty?')).not.toContain('two-year warranty');
  });
});
