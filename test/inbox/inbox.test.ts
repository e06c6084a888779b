// The owner's inbox (§7, §12 "Inbox rows"): a public chatbot's visitors' conversations, newest
// activity first, with the visitor, the unread count and the last message; marking one read sets
// its count to 0 and leaves its place. Only the chatbot's owner sees it; the owner's own
// conversations stay in GET /v1/conversations.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, manualClock, registerUser, type ManualClock, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, visitorSend, type Visit } from '../helpers/public.js';

let t: TestApp;
let llm: FakeLlm;
let clock: ManualClock;
let owner: RegisteredUser;

/** The whole last user message echoed (the fake's default cuts it at 200 characters). */
const echo = (request: { messages: Array<{ role: string; content: string }> }) =>
  `You said: ${[...request.messages].reverse().find((m) => m.role === 'user')?.content ?? ''}`;

beforeAll(async () => {
  llm = await startFakeLlm({ reply: echo });
  clock = manualClock(new Date('2026-12-01T09:00:00Z'));
  t = await createTestApp(fakeLlmEnv(llm.url, { RATE_LIMIT_PUBLIC_IP: '10000/1m', RATE_LIMIT_PUBLIC_VISITOR: '10000/1m' }), { clock });
});
afterAll(async () => {
  await t?.close();
  await llm?.close();
});
beforeEach(async () => {
  llm.reset();
  owner = await registerUser(t);
});

interface Row {
  conversation_id: string;
  visitor: { visitor_id: string; name: string | null };
  unread_count: number;
  last_message: { id: string; role: 'user' | 'assistant'; content: string; truncated: boolean; created_at: string } | null;
  updated_at: string;
}

const publicBot = (user: RegisteredUser = owner, extra: Record<string, unknown> = {}) =>
  createChatbot(t, user, { name: 'Front desk', is_public: true, ...extra });

const inboxRaw = (user: RegisteredUser, chatbotId: string, query = '') =>
  t.request({ method: 'GET', url: `/v1/chatbots/${chatbotId}/conversations${query}`, headers: bearer(user.accessToken) });

async function inbox(user: RegisteredUser, chatbotId: string, query = ''): Promise<{ data: Row[]; next_cursor: string | null }> {
  const response = await inboxRaw(user, chatbotId, query);
  expect(response.statusCode, response.body).toBe(200);
  return json(response) as { data: Row[]; next_cursor: string | null };
}

const markRead = (user: RegisteredUser, conversationId: string, payload?: unknown) =>
  t.request({
    method: 'POST',
    url: `/v1/conversations/${conversationId}/read`,
    headers: bearer(user.accessToken),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

/** A visitor's message, one second after whatever happened last (so activity times differ). */
async function say(visit: Visit, content: string) {
  clock.advance(1000);
  const response = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content });
  expect(response.statusCode, response.body).toBe(201);
  return json(response);
}

function expectProblem(response: LightMyRequestResponse, status: number, code: string) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(json(response).code).toBe(code);
}

const ids = (rows: Row[]) => rows.map((row) => row.conversation_id);

describe('GET /v1/chatbots/{id}/conversations', () => {
  it('lists the visitors\' conversations newest activity first, in keyset pages', async () => {
    const bot = await publicBot();
    const a = await startVisit(t, bot.slug, { visitorId: 'a' });
    const b = await startVisit(t, bot.slug, { visitorId: 'b' });
    const c = await startVisit(t, bot.slug, { visitorId: 'c' });
    await say(b, 'first');
    await say(a, 'second');
    await say(c, 'third');

    const all = await inbox(owner, bot.id);
    expect(ids(all.data)).toEqual([c.conversation_id, a.conversation_id, b.conversation_id]);
    expect(all.next_cursor).toBeNull();
    const times = all.data.map((row) => Date.parse(row.updated_at));
    expect(times).toEqual([...times].sort((x, y) => y - x));

    const first = await inbox(owner, bot.id, '?limit=2');
    expect(ids(first.data)).toEqual([c.conversation_id, a.conversation_id]);
    expect(first.next_cursor).toEqual(expect.any(String));
    // Activity after the first page was read moves rows ahead of the cursor: the next page neither repeats nor skips.
    const d = await startVisit(t, bot.slug, { visitorId: 'd' });
    await say(d, 'newcomer');
    const second = await inbox(owner, bot.id, `?limit=2&cursor=${encodeURIComponent(first.next_cursor!)}`);
    expect(ids(second.data)).toEqual([b.conversation_id]);
    expect(second.next_cursor).toBeNull();

    // New activity brings the oldest to the top.
    await say(b, 'again');
    expect(ids((await inbox(owner, bot.id)).data)).toEqual([b.conversation_id, d.conversation_id, c.conversation_id, a.conversation_id]);
  });

  it('pages through conversations whose activity time is the same, by id', async () => {
    const bot = await publicBot();
    // The clock stands still: every visit starts at the same instant.
    const visits = [];
    for (const label of ['p', 'q', 'r', 's', 't']) visits.push(await startVisit(t, bot.slug, { visitorId: label }));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: Row[]; next_cursor: string | null } = await inbox(owner, bot.id, `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      seen.push(...ids(page.data));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen)).toEqual(new Set(visits.map((v) => v.conversation_id)));
    expect(seen).toEqual([...seen].sort().reverse());
  });

  it('shows the visitor\'s label and name, and the newest message as the last one', async () => {
    const bot = await publicBot();
    const named = await startVisit(t, bot.slug, { visitorId: 'browser-abc', name: 'Ada' });
    const quiet = await startVisit(t, bot.slug, { visitorId: 'browser-def' });
    const sent = await say(named, 'Do you ship to Norway?');

    const { data } = await inbox(owner, bot.id);
    const row = data.find((r) => r.conversation_id === named.conversation_id)!;
    expect(row).toEqual({
      conversation_id: named.conversation_id,
      visitor: { visitor_id: 'browser-abc', name: 'Ada' },
      unread_count: 1,
      last_message: {
        id: sent.reply.id,
        role: 'assistant',
        content: 'You said: Do you ship to Norway?',
        truncated: false,
        created_at: sent.reply.created_at,
      },
      updated_at: clock.now().toISOString(),
    });
    // A visit with nothing said yet: no last message, nothing unread.
    expect(data.find((r) => r.conversation_id === quiet.conversation_id)).toMatchObject({
      visitor: { visitor_id: 'browser-def', name: null },
      unread_count: 0,
      last_message: null,
    });
  });

  it('cuts a long last message to a preview of 200 code points, the "…" included', async () => {
    const bot = await publicBot();
    const visit = await startVisit(t, bot.slug);
    const long = 'নমস্কার 😀 '.repeat(40);
    await say(visit, long);
    const [row] = (await inbox(owner, bot.id)).data;
    const expected = Array.from(`You said: ${long}`).slice(0, 199).join('') + '…';
    expect(row!.last_message).toMatchObject({ role: 'assistant', content: expected, truncated: true });
    expect(Array.from(row!.last_message!.content)).toHaveLength(200);
    // The whole message is still there for the owner.
    const read = await t.request({ method: 'GET', url: `/v1/conversations/${visit.conversation_id}/messages`, headers: bearer(owner.accessToken) });
    expect(json(read).data.at(-1).content).toBe(`You said: ${long}`);
  });

  it('lists only this chatbot\'s visitors: not the owner\'s own conversations, not another chatbot\'s', async () => {
    const bot = await publicBot();
    const otherBot = await publicBot(owner, { name: 'Other desk' });
    const visit = await startVisit(t, bot.slug);
    const elsewhere = await startVisit(t, otherBot.slug);
    await say(visit, 'hello');
    await say(elsewhere, 'hello there');
    const own = await createConversation(t, owner, { chatbot_id: bot.id });
    clock.advance(1000);
    expect((await sendMessage(t, owner, own.id, { content: 'my own question' })).statusCode).toBe(201);

    expect(ids((await inbox(owner, bot.id)).data)).toEqual([visit.conversation_id]);
    expect(ids((await inbox(owner, otherBot.id)).data)).toEqual([elsewhere.conversation_id]);
    // And the owner's own list keeps only their own.
    const mine = json(await t.request({ method: 'GET', url: '/v1/conversations?limit=100', headers: bearer(owner.accessToken) }));
    expect(mine.data.map((c: { id: string }) => c.id)).toEqual([own.id]);
  });

  it("answers 404 for another owner's chatbot, and never lists their visitors", async () => {
    const stranger = await registerUser(t);
    const theirs = await publicBot(stranger);
    const mine = await publicBot();
    const visit = await startVisit(t, theirs.slug, { visitorId: 'their-visitor' });
    await say(visit, 'secret question');

    expectProblem(await inboxRaw(owner, theirs.id), 404, 'not_found');
    expect((await inbox(owner, mine.id)).data).toEqual([]);
    expect(ids((await inbox(stranger, theirs.id)).data)).toEqual([visit.conversation_id]);
  });

  it('refuses a limit outside 1–100, a tampered cursor and unknown parameters with 422', async () => {
    const bot = await publicBot();
    for (const query of ['?limit=0', '?limit=101', '?limit=abc', '?limit=-1', '?cursor=', '?cursor=not-ours', '?sort=asc']) {
      expectProblem(await inboxRaw(owner, bot.id, query), 422, 'validation_failed');
    }
    const forged = Buffer.from(JSON.stringify(['0000-01-01T00:00:00.000Z', 'x'])).toString('base64url');
    expectProblem(await inboxRaw(owner, bot.id, `?cursor=${forged}`), 422, 'validation_failed');
    expect((await inbox(owner, bot.id, '?limit=100')).data).toEqual([]);
  });

  it('answers 404 for a malformed or unknown chatbot id, 401 without an access token', async () => {
    for (const id of ['nope', '123', '0197a0c2-7b4e-7000-8000-00000000000g', '0197a0c2-7b4e-7000-8000-000000000000', 'x'.repeat(100)]) {
      expectProblem(await inboxRaw(owner, id), 404, 'not_found');
    }
    const bot = await publicBot();
    expectProblem(await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/conversations` }), 401, 'unauthorized');
    // A visitor token is no owner's credential.
    const visit = await startVisit(t, bot.slug);
    const asVisitor = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/conversations`, headers: bearer(visit.visitor_token) });
    expect(asVisitor.statusCode).toBe(401);
  });
});

describe('POST /v1/conversations/{id}/read', () => {
  const rowOf = async (chatbotId: string, conversationId: string) => (await inbox(owner, chatbotId)).data.find((r) => r.conversation_id === conversationId)!;

  it('counts the visitor\'s messages as unread until marked read, and reading keeps the order', async () => {
    const bot = await publicBot();
    const older = await startVisit(t, bot.slug, { visitorId: 'older' });
    const newer = await startVisit(t, bot.slug, { visitorId: 'newer' });
    await say(older, 'one');
    await say(older, 'two');
    await say(newer, 'three');
    expect((await rowOf(bot.id, older.conversation_id)).unread_count).toBe(2);
    expect((await rowOf(bot.id, newer.conversation_id)).unread_count).toBe(1);

    // Reading the messages alone marks nothing read.
    const messages = await t.request({ method: 'GET', url: `/v1/conversations/${older.conversation_id}/messages`, headers: bearer(owner.accessToken) });
    expect(json(messages).data).toHaveLength(4);
    expect((await rowOf(bot.id, older.conversation_id)).unread_count).toBe(2);

    const before = await inbox(owner, bot.id);
    clock.advance(60_000);
    const read = await markRead(owner, older.conversation_id);
    expect(read.statusCode, read.body).toBe(200);
    expect(json(read)).toEqual({ conversation_id: older.conversation_id, unread_count: 0 });

    const after = await inbox(owner, bot.id);
    expect(ids(after.data)).toEqual(ids(before.data));
    expect(after.data.map((r) => r.updated_at)).toEqual(before.data.map((r) => r.updated_at));
    expect(after.data.map((r) => r.unread_count)).toEqual([1, 0]);

    // The visitor writes again: one unread, and the conversation leads again.
    await say(older, 'four');
    const again = await inbox(owner, bot.id);
    expect(ids(again.data)).toEqual([older.conversation_id, newer.conversation_id]);
    expect(again.data[0]!.unread_count).toBe(1);
  });

  it('clearing a visitor\'s history leaves nothing unread', async () => {
    const bot = await publicBot();
    const visit = await startVisit(t, bot.slug, { visitorId: 'cleared' });
    await say(visit, 'one');
    await say(visit, 'two');
    expect((await rowOf(bot.id, visit.conversation_id)).unread_count).toBe(2);
    const cleared = await t.request({ method: 'DELETE', url: `/v1/conversations/${visit.conversation_id}/messages`, headers: bearer(owner.accessToken) });
    expect(cleared.statusCode).toBe(204);
    expect(await rowOf(bot.id, visit.conversation_id)).toMatchObject({ unread_count: 0, last_message: null });
  });

  it('takes no body or an empty object; any field is a 422, and marking twice is fine', async () => {
    const bot = await publicBot();
    const visit = await startVisit(t, bot.slug);
    await say(visit, 'hi');
    expect((await markRead(owner, visit.conversation_id, {})).statusCode).toBe(200);
    expect((await markRead(owner, visit.conversation_id)).statusCode).toBe(200);
    expect((await markRead(owner, visit.conversation_id.toUpperCase())).statusCode).toBe(200);
    await say(visit, 'hi again');
    expectProblem(await markRead(owner, visit.conversation_id, { unread_count: 5 }), 422, 'validation_failed');
    expect((await rowOf(bot.id, visit.conversation_id)).unread_count).toBe(1);
  });

  it("answers 404 for another owner's, an unknown or a malformed conversation, and changes nothing", async () => {
    const stranger = await registerUser(t);
    const theirs = await publicBot(stranger);
    const visit = await startVisit(t, theirs.slug);
    await say(visit, 'for the stranger only');
    expectProblem(await markRead(owner, visit.conversation_id), 404, 'not_found');
    const [row] = (await inbox(stranger, theirs.id)).data;
    expect(row!.unread_count).toBe(1);
    for (const id of ['nope', '0197a0c2-7b4e-7000-8000-000000000000', 'x'.repeat(100)]) {
      expectProblem(await markRead(owner, id), 404, 'not_found');
    }
    expectProblem(await t.request({ method: 'POST', url: `/v1/conversations/${visit.conversation_id}/read` }), 401, 'unauthorized');
    // The visitor cannot mark it read for the owner either.
    const asVisitor = await t.request({ method: 'POST', url: `/v1/conversations/${visit.conversation_id}/read`, headers: bearer(visit.visitor_token) });
    expect(asVisitor.statusCode).toBe(401);
  });

  it("answers 200 with nothing unread for the owner's own conversation", async () => {
    const own = await createConversation(t, owner);
    expect((await sendMessage(t, owner, own.id, { content: 'note to self' })).statusCode).toBe(201);
    const read = await markRead(owner, own.id);
    expect(read.statusCode, read.body).toBe(200);
    expect(json(read)).toEqual({ conversation_id: own.id, unread_count: 0 });
    const [stored] = await t.database.sql.query<{ unread_count: number }>('SELECT unread_count FROM conversations WHERE id = $1', [own.id]);
    expect(Number(stored!.unread_count)).toBe(0);
  });
});

describe('in /openapi.json', () => {
  it('documents both routes with their schemas', async () => {
    const doc = json(await t.request({ method: 'GET', url: '/openapi.json' }));
    const list = doc.paths['/v1/chatbots/{id}/conversations'].get;
    expect(list.security).toEqual([{ bearerAuth: [] }]);
    expect(list.responses['200']).toBeDefined();
    expect(list.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['cursor', 'id', 'limit']);
    const read = doc.paths['/v1/conversations/{id}/read'].post;
    expect(read.responses['200']).toBeDefined();
    expect(read.responses['404']).toBeDefined();
  });
});
