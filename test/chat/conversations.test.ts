import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

// §6 Conversations and messages, §12 Conversations (builtin responder, no network).

let t: TestApp;
let user: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  user = await registerUser(t);
});
afterAll(async () => {
  await t.close();
});

const graphemes = (s: string) => Array.from(new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s), (g) => g.segment);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function expectProblem(response: LightMyRequestResponse, status: number, code?: string) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = json(response);
  if (code) expect(body.code).toBe(code);
  return body;
}

const call = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown, who: RegisteredUser = user, app: TestApp = t) =>
  app.request({ method, url, headers: bearer(who.accessToken), ...(payload === undefined ? {} : { payload: payload as object }) });
const getConversation = async (id: string) => json(await call('GET', `/v1/conversations/${id}`));
const listIds = async (query = '', who: RegisteredUser = user) => {
  const response = await call('GET', `/v1/conversations${query}`, undefined, who);
  expect(response.statusCode, response.body).toBe(200);
  return json(response).data.map((c: { id: string }) => c.id) as string[];
};
const messagesOf = async (id: string, query = '') => {
  const response = await call('GET', `/v1/conversations/${id}/messages${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return json(response);
};
async function turn(conversationId: string, content: string) {
  const response = await sendMessage(t, user, conversationId, { content });
  expect(response.statusCode, response.body).toBe(201);
  return json(response);
}
async function titleFor(content: string): Promise<string | null> {
  const conversation = await createConversation(t, user);
  await turn(conversation.id, content);
  return (await getConversation(conversation.id)).title;
}

describe('POST /v1/conversations', () => {
  it('starts a conversation in a named chatbot or in the default one', async () => {
    const bot = await createChatbot(t, user, { name: 'Named' });
    const named = await createConversation(t, user, { chatbot_id: bot.id, context: 'The customer is on the gold plan.' });
    expect(named).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      chatbot_id: bot.id,
      title: null,
      status: 'active',
      context: 'The customer is on the gold plan.',
      message_count: 0,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const unnamed = await createConversation(t, user);
    expect(unnamed.chatbot_id).not.toBe(bot.id);
    expect(json(await call('GET', `/v1/chatbots/${unnamed.chatbot_id}`)).is_default).toBe(true);
  });

  it('answers 404 for another user\'s or an unknown chatbot, creating nothing', async () => {
    const other = await registerUser(t);
    const theirs = await createChatbot(t, other, { name: 'Theirs' });
    const before = await t.count('conversations');
    expectProblem(await call('POST', '/v1/conversations', { chatbot_id: theirs.id }), 404, 'not_found');
    expectProblem(await call('POST', '/v1/conversations', { chatbot_id: '0190f5a0-0000-7000-8000-000000000000' }), 404, 'not_found');
    expectProblem(await call('POST', '/v1/conversations', { chatbot_id: 'nope' }), 404, 'not_found');
    expect(await t.count('conversations')).toBe(before);
  });

  it('keeps an explicit title of 60 graphemes and refuses 61 with 422', async () => {
    const sixty = '👍🏽'.repeat(60);
    expect((await createConversation(t, user, { title: sixty })).title).toBe(sixty);
    expectProblem(await call('POST', '/v1/conversations', { title: 'x'.repeat(61) }), 422, 'validation_failed');
    expectProblem(await call('POST', '/v1/conversations', { title: '🇧🇩'.repeat(61) }), 422, 'validation_failed');
    expectProblem(await call('POST', '/v1/conversations', { status: 'active' }), 422, 'validation_failed');
  });
});

describe('the title from the first message', () => {
  it('is the whole message when short (Chinese)', async () => {
    expect(await titleFor('我的公司是電子業，我們生產電路板')).toBe('我的公司是電子業，我們生產電路板');
  });

  it('cuts a long Bengali sentence to exactly 60 grapheme clusters ending in "…"', async () => {
    const message = 'আমাদের প্রতিষ্ঠান ইলেকট্রনিক্স শিল্পে কাজ করে এবং আমরা বাংলাদেশের বিভিন্ন শহরে সার্কিট বোর্ড তৈরি করি ও বিদেশে রপ্তানি করি';
    const parts = graphemes(message);
    expect(parts.length).toBeGreaterThan(60);
    expect(parts[58]).not.toMatch(/\s/); // the cut falls inside a word, so nothing is trimmed
    const title = (await titleFor(message))!;
    const titleParts = graphemes(title);
    expect(titleParts).toHaveLength(60);
    expect(titleParts.at(-1)).toBe('…');
    expect(titleParts.slice(0, 59)).toEqual(parts.slice(0, 59));
    expect(title).toBe(`${parts.slice(0, 59).join('')}…`);
  });

  it('never splits an emoji sequence (family ZWJ, flags, skin tones)', async () => {
    const clusters = ['👨‍👩‍👧‍👦', '🇧🇩', '👍🏽', '🏳️‍🌈'];
    const message = Array.from({ length: 80 }, (_, i) => clusters[i % clusters.length]).join('');
    const title = (await titleFor(message))!;
    const titleParts = graphemes(title);
    expect(titleParts).toHaveLength(60);
    expect(titleParts.at(-1)).toBe('…');
    expect(titleParts.slice(0, 59)).toEqual(graphemes(message).slice(0, 59));
    for (const part of titleParts.slice(0, 59)) expect(clusters).toContain(part);
  });

  it('is the first line, whitespace collapsed', async () => {
    expect(await titleFor('  Quarterly   report\tquestions  \nSecond line\nThird line')).toBe('Quarterly report questions');
    expect(await titleFor('\n\n  \nActual first line\nmore')).toBe('Actual first line');
  });

  it('does not replace an explicit title, nor a title set before the first message', async () => {
    const explicit = await createConversation(t, user, { title: 'My own title' });
    await turn(explicit.id, 'A first message that would make another title');
    expect((await getConversation(explicit.id)).title).toBe('My own title');

    const renamed = await createConversation(t, user);
    expect(json(await call('PATCH', `/v1/conversations/${renamed.id}`, { title: 'Renamed first' })).title).toBe('Renamed first');
    await turn(renamed.id, 'Hello there, first message');
    expect((await getConversation(renamed.id)).title).toBe('Renamed first');
  });

  it('comes from the first message only', async () => {
    const conversation = await createConversation(t, user);
    await turn(conversation.id, 'The first question');
    await turn(conversation.id, 'The second question');
    expect((await getConversation(conversation.id)).title).toBe('The first question');
  });
});

describe('GET /v1/conversations', () => {
  it('lists newest activity first; a message moves a conversation to the top; message_count counts both roles', async () => {
    const me = await registerUser(t);
    const created: string[] = [];
    for (let i = 0; i < 3; i++) created.push((await createConversation(t, me)).id);
    expect(await listIds('', me)).toEqual([...created].reverse());

    await sleep(5);
    const answer = await sendMessage(t, me, created[0]!, { content: 'Bring the oldest back' });
    expect(answer.statusCode).toBe(201);
    expect(await listIds('', me)).toEqual([created[0], created[2], created[1]]);
    const top = json(await call('GET', '/v1/conversations', undefined, me)).data[0];
    expect(top.message_count).toBe(2);
    expect(Date.parse(top.updated_at)).toBeGreaterThan(Date.parse(top.created_at));
  });

  it('filters by chatbot_id and status', async () => {
    const me = await registerUser(t);
    const bot = await createChatbot(t, me, { name: 'Filtered' });
    const inBot = await createConversation(t, me, { chatbot_id: bot.id });
    const doneInBot = await createConversation(t, me, { chatbot_id: bot.id });
    const elsewhere = await createConversation(t, me);
    expect((await call('PATCH', `/v1/conversations/${doneInBot.id}`, { status: 'completed' }, me)).statusCode).toBe(200);

    expect((await listIds(`?chatbot_id=${bot.id}`, me)).sort()).toEqual([inBot.id, doneInBot.id].sort());
    expect((await listIds('?status=completed', me))).toEqual([doneInBot.id]);
    expect((await listIds('?status=active', me)).sort()).toEqual([inBot.id, elsewhere.id].sort());
    expect(await listIds(`?chatbot_id=${bot.id}&status=active`, me)).toEqual([inBot.id]);
    expectProblem(await call('GET', '/v1/conversations?status=archived', undefined, me), 422, 'validation_failed');
    expectProblem(await call('GET', '/v1/conversations?chatbot_id=0190f5a0-0000-7000-8000-000000000000', undefined, me), 404, 'not_found');
  });

  it('pages with a cursor that stays stable while new conversations are created', async () => {
    const me = await registerUser(t);
    const original: string[] = [];
    for (let i = 0; i < 5; i++) original.push((await createConversation(t, me)).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await call('GET', `/v1/conversations?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, me);
      expect(response.statusCode, response.body).toBe(200);
      seen.push(...json(response).data.map((c: { id: string }) => c.id));
      cursor = json(response).next_cursor;
      pages++;
      // Someone starts a new conversation between pages.
      await createConversation(t, me);
    } while (cursor && pages < 10);
    expect(seen).toEqual([...original].reverse());
    expectProblem(await call('GET', '/v1/conversations?cursor=AAAA', undefined, me), 422, 'validation_failed');
  });

  it('gives the latest active conversation, and 404 when there is none', async () => {
    const me = await registerUser(t);
    expectProblem(await call('GET', '/v1/conversations/latest', undefined, me), 404, 'not_found');
    const older = await createConversation(t, me);
    const newer = await createConversation(t, me);
    expect(json(await call('GET', '/v1/conversations/latest', undefined, me)).id).toBe(newer.id);
    await sleep(5);
    expect((await sendMessage(t, me, older.id, { content: 'Still here' })).statusCode).toBe(201);
    expect(json(await call('GET', '/v1/conversations/latest', undefined, me)).id).toBe(older.id);
    await call('PATCH', `/v1/conversations/${older.id}`, { status: 'completed' }, me);
    expect(json(await call('GET', '/v1/conversations/latest', undefined, me)).id).toBe(newer.id);
    await call('PATCH', `/v1/conversations/${newer.id}`, { status: 'completed' }, me);
    expectProblem(await call('GET', '/v1/conversations/latest', undefined, me), 404, 'not_found');
  });
});

describe('one conversation', () => {
  it('PATCH changes the title and status; bad changes are 422', async () => {
    const conversation = await createConversation(t, user);
    const renamed = json(await call('PATCH', `/v1/conversations/${conversation.id}`, { title: 'New name', status: 'completed' }));
    expect(renamed).toMatchObject({ id: conversation.id, title: 'New name', status: 'completed' });
    expect(await getConversation(conversation.id)).toMatchObject({ title: 'New name', status: 'completed' });
    expect(json(await call('PATCH', `/v1/conversations/${conversation.id}`, { status: 'active' })).status).toBe('active');
    for (const bad of [{}, { status: 'archived' }, { title: 'y'.repeat(61) }, { title: '  ' }, { message_count: 9 }]) {
      expectProblem(await call('PATCH', `/v1/conversations/${conversation.id}`, bad), 422, 'validation_failed');
    }
    expect(await getConversation(conversation.id)).toMatchObject({ title: 'New name', status: 'active', message_count: 0 });
  });

  it('DELETE removes it with its messages', async () => {
    const conversation = await createConversation(t, user);
    await turn(conversation.id, 'Something to delete');
    const response = await call('DELETE', `/v1/conversations/${conversation.id}`);
    expect(response.statusCode).toBe(204);
    expectProblem(await call('GET', `/v1/conversations/${conversation.id}`), 404, 'not_found');
    expectProblem(await call('GET', `/v1/conversations/${conversation.id}/messages`), 404, 'not_found');
    expectProblem(await call('DELETE', `/v1/conversations/${conversation.id}`), 404, 'not_found');
    expect(await t.database.sql.query('SELECT id FROM messages WHERE conversation_id = $1', [conversation.id])).toHaveLength(0);
  });

  it('lists messages oldest first, the user message before its reply, page by page', async () => {
    const conversation = await createConversation(t, user);
    const first = await turn(conversation.id, 'First question');
    const second = await turn(conversation.id, 'Second question');
    expect(first.user_message).toMatchObject({ role: 'user', content: 'First question', status: 'complete', feedback: null });
    expect(first.reply).toMatchObject({ role: 'assistant', status: 'complete' });
    const expected = [first.user_message.id, first.reply.id, second.user_message.id, second.reply.id];

    const all = await messagesOf(conversation.id);
    expect(all.data.map((m: { id: string }) => m.id)).toEqual(expected);
    expect(all.data.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(all.data[0].content).toBe('First question');
    expect(all.next_cursor).toBeNull();

    const page1 = await messagesOf(conversation.id, '?limit=3');
    expect(page1.data).toHaveLength(3);
    const page2 = await messagesOf(conversation.id, `?limit=3&cursor=${encodeURIComponent(page1.next_cursor)}`);
    expect(page2.next_cursor).toBeNull();
    expect([...page1.data, ...page2.data].map((m: { id: string }) => m.id)).toEqual(expected);
    expect((await getConversation(conversation.id)).message_count).toBe(4);
  });

  it('DELETE /messages clears the history and keeps the conversation', async () => {
    const conversation = await createConversation(t, user);
    await turn(conversation.id, 'Forget me');
    const response = await call('DELETE', `/v1/conversations/${conversation.id}/messages`);
    expect(response.statusCode).toBe(204);
    expect(await getConversation(conversation.id)).toMatchObject({ id: conversation.id, message_count: 0, title: 'Forget me' });
    expect((await messagesOf(conversation.id)).data).toEqual([]);
    await turn(conversation.id, 'Starting over');
    expect((await messagesOf(conversation.id)).data.map((m: { content: string }) => m.content)[0]).toBe('Starting over');
  });

  it('regenerate replaces the last reply; 409 on an empty conversation', async () => {
    const conversation = await createConversation(t, user);
    expectProblem(await call('POST', `/v1/conversations/${conversation.id}/regenerate`, {}), 409);
    const first = await turn(conversation.id, 'hello');
    const response = await call('POST', `/v1/conversations/${conversation.id}/regenerate`, {});
    expect(response.statusCode, response.body).toBe(201);
    const reply = json(response).reply;
    expect(reply).toMatchObject({ role: 'assistant', status: 'complete' });
    expect(reply.id).not.toBe(first.reply.id);
    expect((await getConversation(conversation.id)).message_count).toBe(2);
    const ids = (await messagesOf(conversation.id)).data.map((m: { id: string }) => m.id);
    expect(ids).toEqual([first.user_message.id, reply.id]);
    expectProblem(await call('PUT', `/v1/messages/${first.reply.id}/feedback`, { rating: 'like' }), 404, 'not_found');
  });

  it('POST /v1/chat starts a conversation, and continues one given its id', async () => {
    const response = await call('POST', '/v1/chat', { message: 'One call question' });
    expect(response.statusCode, response.body).toBe(201);
    const body = json(response);
    expect(Object.keys(body).sort()).toEqual(['conversation_id', 'reply', 'user_message']);
    expect(body.user_message).toMatchObject({ role: 'user', content: 'One call question' });
    expect(body.reply).toMatchObject({ role: 'assistant', status: 'complete' });
    expect(await getConversation(body.conversation_id)).toMatchObject({ title: 'One call question', message_count: 2 });

    const next = await call('POST', '/v1/chat', { message: 'And a follow-up', conversation_id: body.conversation_id });
    expect(next.statusCode, next.body).toBe(201);
    expect(json(next).conversation_id).toBe(body.conversation_id);
    expect((await getConversation(body.conversation_id)).message_count).toBe(4);

    const bot = await createChatbot(t, user, { name: 'Chat target' });
    const inBot = json(await call('POST', '/v1/chat', { message: 'To a named bot', chatbot_id: bot.id }));
    expect((await getConversation(inBot.conversation_id)).chatbot_id).toBe(bot.id);
  });
});

describe('PUT /v1/messages/{id}/feedback', () => {
  it('rates a reply, shows the rating with the message, and clears it with null', async () => {
    const conversation = await createConversation(t, user);
    const { user_message, reply } = await turn(conversation.id, 'Rate this');
    const response = await call('PUT', `/v1/messages/${reply.id}/feedback`, { rating: 'like', comment: 'Very helpful' });
    expect(response.statusCode, response.body).toBe(200);
    expect(json(response)).toMatchObject({ id: reply.id, role: 'assistant', feedback: { rating: 'like', comment: 'Very helpful' } });
    const listed = (await messagesOf(conversation.id)).data.find((m: { id: string }) => m.id === reply.id);
    expect(listed.feedback).toEqual({ rating: 'like', comment: 'Very helpful' });

    expect(json(await call('PUT', `/v1/messages/${reply.id}/feedback`, { rating: 'dislike' })).feedback).toMatchObject({ rating: 'dislike' });
    expectProblem(await call('PUT', `/v1/messages/${user_message.id}/feedback`, { rating: 'like' }), 404, 'not_found');
    expectProblem(await call('PUT', `/v1/messages/${reply.id}/feedback`, { rating: 'love' }), 422, 'validation_failed');

    const cleared = await call('PUT', `/v1/messages/${reply.id}/feedback`, { rating: null });
    expect(cleared.statusCode).toBe(200);
    expect(json(cleared).feedback).toBeNull();
    expect((await messagesOf(conversation.id)).data.find((m: { id: string }) => m.id === reply.id).feedback).toBeNull();
  });
});

describe('message content', () => {
  it.each([[''], ['   '], ['\n\t \r\n'], ['\u3000'], ['\u200b'], [' \u3000\u200b\u200b \n']])(
    'refuses the blank content %j with 422 and stores nothing',
    async (content) => {
      const conversation = await createConversation(t, user);
      const before = await t.count('messages');
      const conversationsBefore = await t.count('conversations');
      expectProblem(await sendMessage(t, user, conversation.id, { content }), 422, 'validation_failed');
      expectProblem(await call('POST', '/v1/chat', { message: content }), 422, 'validation_failed');
      expect(await t.count('messages')).toBe(before);
      expect(await t.count('conversations')).toBe(conversationsBefore);
      expect(await getConversation(conversation.id)).toMatchObject({ message_count: 0, title: null });
    },
  );

  describe('with MAX_MESSAGE_CHARS=10', () => {
    let small: TestApp;
    let someone: RegisteredUser;
    beforeAll(async () => {
      small = await createTestApp({ MAX_MESSAGE_CHARS: '10' });
      someone = await registerUser(small);
    });
    afterAll(async () => {
      await small.close();
    });

    it('counts code points: 10 emoji pass, 11 are refused with 422', async () => {
      const conversation = await createConversation(small, someone);
      const ok = await sendMessage(small, someone, conversation.id, { content: '😀'.repeat(10) });
      expect(ok.statusCode, ok.body).toBe(201);
      expect(json(ok).user_message.content).toBe('😀'.repeat(10));
      const before = await small.count('messages');
      const tooLong = await sendMessage(small, someone, conversation.id, { content: '😀'.repeat(11) });
      expectProblem(tooLong, 422, 'validation_failed');
      expectProblem(await sendMessage(small, someone, conversation.id, { content: 'abcdefghijk' }), 422, 'validation_failed');
      expectProblem(await call('POST', '/v1/chat', { message: '😀'.repeat(11) }, someone, small), 422, 'validation_failed');
      expect(await small.count('messages')).toBe(before);
    });
  });
});
