// Edges found by testing (§2, §6, §12): a refused one-call chat leaves no conversation behind,
// a tampered list cursor is a 422 whatever time it names, and titles follow one rule whether
// given or taken from the first message.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsersCommand } from '../../src/cli-users.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  // One message a minute per user: every test uses users of its own.
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '1/1m', MAX_MESSAGE_CHARS: '6000' });
});
afterAll(async () => {
  await t?.close();
});

const graphemes = (s: string) => Array.from(new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s), (g) => g.segment);
const FAMILY = '👩‍👩‍👧‍👦';

function expectProblem(response: LightMyRequestResponse, status: number, code: string) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(json(response).code).toBe(code);
}

const call = (who: RegisteredUser, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
  t.request({ method, url, headers: bearer(who.accessToken), ...(payload === undefined ? {} : { payload }) });
const conversationsOf = async (who: RegisteredUser) => {
  const response = await call(who, 'GET', '/v1/conversations?limit=100');
  expect(response.statusCode, response.body).toBe(200);
  return json(response).data as Array<{ id: string; title: string | null; message_count: number }>;
};
const cursorOf = (parts: unknown[]) => encodeURIComponent(Buffer.from(JSON.stringify(parts)).toString('base64url'));

describe('POST /v1/chat refused before its turn starts', () => {
  it('creates no conversation when the message limit refuses it (429)', async () => {
    const user = await registerUser(t);
    const first = await call(user, 'POST', '/v1/chat', { message: 'The one allowed' });
    expect(first.statusCode, first.body).toBe(201);

    const limited = await call(user, 'POST', '/v1/chat', { message: 'One too many' });
    expectProblem(limited, 429, 'rate_limited');
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await conversationsOf(user)).map((c) => c.id)).toEqual([json(first).conversation_id]);
  });

  it.each([
    ['blank', ' \u200b\n '],
    ['over MAX_MESSAGE_CHARS', 'x'.repeat(6_001)],
  ])('creates no conversation and uses none of the limit when the message is %s (422)', async (_label, message) => {
    const user = await registerUser(t);
    expectProblem(await call(user, 'POST', '/v1/chat', { message }), 422, 'validation_failed');
    expect(await conversationsOf(user)).toEqual([]);
    // The refused request did not count: the one message a minute is still there.
    const allowed = await call(user, 'POST', '/v1/chat', { message: 'Now a real one' });
    expect(allowed.statusCode, allowed.body).toBe(201);
    expect((await conversationsOf(user)).map((c) => [c.id, c.message_count])).toEqual([[json(allowed).conversation_id, 2]]);
  });

  it('creates no conversation for a chatbot that is not the caller\'s (404)', async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner);
    const user = await registerUser(t);
    expectProblem(await call(user, 'POST', '/v1/chat', { message: 'Hello', chatbot_id: bot.id }), 404, 'not_found');
    expect(await conversationsOf(user)).toEqual([]);
  });
});

describe('a tampered list cursor answers 422', () => {
  const badTimes = ['0000-01-01T00:00:00.000Z', '9999-12-31T24:00:00.000Z', '2024-02-30T00:00:00.000Z', '+010000-01-01T00:00:00.000Z'];
  const anId = '0190a4c2-0000-7000-8000-000000000000';

  async function listRoutes() {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user);
    const conversation = await createConversation(t, user);
    const admin = await registerUser(t);
    await runUsersCommand(['promote', admin.username], t.database.sql);
    return [
      [user, '/v1/chatbots'],
      [admin, '/v1/chatbots?all=true'],
      [user, '/v1/conversations'],
      [user, `/v1/chatbots/${bot.id}/knowledge`],
      [user, `/v1/conversations/${conversation.id}/messages`],
      [admin, '/v1/admin/users'],
    ] as const;
  }

  it('when it names a time outside what PostgreSQL and JavaScript both hold, on every list', async () => {
    for (const [who, path] of await listRoutes()) {
      const joiner = path.includes('?') ? '&' : '?';
      for (const time of badTimes) {
        const response = await call(who, 'GET', `${path}${joiner}cursor=${cursorOf([time, anId])}`);
        expectProblem(response, 422, 'validation_failed');
        expect(json(response).errors, `${path} ${time}`).toEqual([expect.objectContaining({ path: expect.stringContaining('cursor') })]);
      }
      const bare = await call(who, 'GET', `${path}${joiner}cursor=${cursorOf(['0000-01-01T00:00:00.000Z'])}`);
      expectProblem(bare, 422, 'validation_failed');
    }
  });

  it('while the cursors the server issues, from the earliest year on, still page', async () => {
    const user = await registerUser(t);
    for (const name of ['One', 'Two']) await createChatbot(t, user, { name });
    const page = json(await call(user, 'GET', '/v1/chatbots?limit=1'));
    const next = await call(user, 'GET', `/v1/chatbots?limit=1&cursor=${encodeURIComponent(page.next_cursor)}`);
    expect(next.statusCode, next.body).toBe(200);
    expect(json(next).data).toHaveLength(1);
    const earliest = await call(user, 'GET', `/v1/chatbots?cursor=${cursorOf(['0001-01-01T00:00:00.000Z', anId])}`);
    expect(earliest.statusCode, earliest.body).toBe(200);
    expect(json(earliest).data).toEqual([]);
  });
});

describe('titles: one rule, given or taken from the first message', () => {
  it('refuses an explicit title of only zero-width characters, as such a message is refused', async () => {
    const user = await registerUser(t);
    for (const title of ['\u200b\u200b', '\u200d\ufeff \u2060']) {
      expectProblem(await call(user, 'POST', '/v1/conversations', { title }), 422, 'validation_failed');
    }
    expect(await conversationsOf(user)).toEqual([]);
    const kept = await createConversation(t, user, { title: 'Kept' });
    expectProblem(await call(user, 'PATCH', `/v1/conversations/${kept.id}`, { title: '\u200b' }), 422, 'validation_failed');
    expect(json(await call(user, 'GET', `/v1/conversations/${kept.id}`)).title).toBe('Kept');
  });

  it('keeps 60 family emoji as a title whether given or taken from the first message, and refuses 61', async () => {
    const user = await registerUser(t);
    const sixty = FAMILY.repeat(60);
    const given = await call(user, 'POST', '/v1/conversations', { title: sixty });
    expect(given.statusCode, given.body).toBe(201);
    expect(json(given).title).toBe(sixty);
    expectProblem(await call(user, 'POST', '/v1/conversations', { title: FAMILY.repeat(61) }), 422, 'validation_failed');

    const auto = await call(user, 'POST', '/v1/chat', { message: sixty });
    expect(auto.statusCode, auto.body).toBe(201);
    expect(json(await call(user, 'GET', `/v1/conversations/${json(auto).conversation_id}`)).title).toBe(sixty);
  });

  it('cuts an absurdly long character in a title taken from the first message', async () => {
    const user = await registerUser(t);
    const zalgo = `e${'\u0301'.repeat(5_000)}`;
    const sent = await call(user, 'POST', '/v1/chat', { message: `${zalgo} and more` });
    expect(sent.statusCode, sent.body).toBe(201);
    const title = json(await call(user, 'GET', `/v1/conversations/${json(sent).conversation_id}`)).title as string;
    expect(title.startsWith('e\u0301')).toBe(true);
    expect(title.endsWith(' and more')).toBe(true);
    expect(title.length).toBeLessThanOrEqual(60 * 16);
    expect(graphemes(title).every((g) => g.length <= 16)).toBe(true);
    expectProblem(await call(user, 'POST', '/v1/conversations', { title: `e${'\u0301'.repeat(40)}` }), 422, 'validation_failed');
  });
});

describe('sending refused by the limit', () => {
  it('leaves the conversation as it was', async () => {
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    expect((await sendMessage(t, user, conversation.id, { content: 'First' })).statusCode).toBe(201);
    expectProblem(await sendMessage(t, user, conversation.id, { content: 'Second' }), 429, 'rate_limited');
    expect((await conversationsOf(user)).map((c) => c.message_count)).toEqual([2]);
  });
});
