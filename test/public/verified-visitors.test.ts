// Verified visitors (§7, §12): the host site passes its signed-in user's token when a visit
// starts, and the conversation is that user's: one visitor per user and chatbot, the same
// conversations listed in the user's own GET /v1/conversations (one store across channels), the
// owner's inbox showing them like any visitor's. A forged or expired user token never yields
// that user's conversations.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, uniqueUsername, type RegisteredUser } from '../helpers/factories.js';
import { startVisitRaw, visitorMessages, visitorSend, type Visit } from '../helpers/public.js';

const HOST_SECRET = randomBytes(32).toString('hex');

let t: TestApp;
let owner: RegisteredUser;

beforeAll(async () => {
  t = await createTestApp({ EXTERNAL_JWT_SECRET: HOST_SECRET, RATE_LIMIT_PUBLIC_IP: '10000/1m' });
});
afterAll(async () => {
  await t?.close();
});
beforeEach(async () => {
  owner = await registerUser(t);
});

/** A token the host site signs for its signed-in user. */
function hostToken(userId: string, username: string, options: { secret?: string; expiresIn?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ user_id: userId, username })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 600))
    .sign(new TextEncoder().encode(options.secret ?? HOST_SECRET));
}

async function visitAs(chatbot: string, token: string, body: Record<string, unknown> = { visitor_id: 'widget-1' }): Promise<Visit> {
  const response = await startVisitRaw(t, chatbot, body, bearer(token));
  expect(response.statusCode, response.body).toBe(201);
  return json(response) as unknown as Visit;
}

const conversationsOf = async (token: string) => {
  const response = await t.request({ method: 'GET', url: '/v1/conversations?limit=100', headers: bearer(token) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response).data as Array<{ id: string; chatbot_id: string; title: string | null; message_count: number }>;
};

describe("a host site's signed-in user", () => {
  it('owns the conversation: it appears in their GET /v1/conversations, with its messages, and in the owner\'s inbox', async () => {
    const bot = await createChatbot(t, owner, { name: 'Shop help', is_public: true });
    const hostUser = uniqueUsername('shopper');
    const token = await hostToken(`host-${hostUser}`, hostUser);
    const visit = await visitAs(bot.slug, token, { visitor_id: 'widget-1' });
    const sent = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Where is my order?' });
    expect(sent.statusCode, sent.body).toBe(201);

    // The same user, through the API with the same token: the conversation is theirs.
    const listed = await conversationsOf(token);
    expect(listed.map((c) => c.id)).toEqual([visit.conversation_id]);
    expect(listed[0]).toMatchObject({ chatbot_id: bot.id, title: 'Where is my order?', message_count: 2 });
    const one = await t.request({ method: 'GET', url: `/v1/conversations/${visit.conversation_id}`, headers: bearer(token) });
    expect(one.statusCode).toBe(200);
    const messages = await t.request({ method: 'GET', url: `/v1/conversations/${visit.conversation_id}/messages`, headers: bearer(token) });
    expect(messages.statusCode).toBe(200);
    expect(json(messages).data.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);

    // The owner sees it in the inbox like any visitor's, named after the user.
    const inbox = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/conversations`, headers: bearer(owner.accessToken) });
    expect(json(inbox).data).toEqual([expect.objectContaining({ conversation_id: visit.conversation_id, visitor: { visitor_id: 'widget-1', name: hostUser }, unread_count: 1 })]);
    // ...and not in their own list.
    expect((await conversationsOf(owner.accessToken)).map((c) => c.id)).not.toContain(visit.conversation_id);
  });

  it('is one visitor per chatbot across visits, devices and labels, and their conversations are listed together with their own', async () => {
    const bot = await createChatbot(t, owner, { name: 'Shop help', is_public: true });
    const other = await createChatbot(t, owner, { name: 'Returns', is_public: true });
    const user = await registerUser(t);
    const own = await t.request({ method: 'POST', url: '/v1/conversations', headers: bearer(user.accessToken), payload: {} });
    const first = await visitAs(bot.slug, user.accessToken, { visitor_id: 'laptop' });
    const second = await visitAs(bot.id, user.accessToken, { visitor_id: 'phone' });
    const elsewhere = await visitAs(other.slug, user.accessToken, { visitor_id: 'laptop' });
    const visitors = await t.database.sql.query<{ chatbot_id: string; n: string }>(
      'SELECT chatbot_id::text, count(*) AS n FROM visitors WHERE verified_user_id = $1 GROUP BY chatbot_id',
      [user.id],
    );
    expect(Object.fromEntries(visitors.map((row) => [row.chatbot_id, Number(row.n)]))).toEqual({ [bot.id]: 1, [other.id]: 1 });
    // Either visit's token opens both conversations on that chatbot: they are one visitor's.
    expect((await visitorMessages(t, second.visitor_token, first.conversation_id)).statusCode).toBe(200);
    expect((await visitorMessages(t, elsewhere.visitor_token, first.conversation_id)).statusCode).toBe(404);
    const ids = (await conversationsOf(user.accessToken)).map((c) => c.id).sort();
    expect(ids).toEqual([json(own).id, first.conversation_id, second.conversation_id, elsewhere.conversation_id].sort());
  });

  it("pages the user's own conversations and visits together, newest activity first", async () => {
    const bot = await createChatbot(t, owner, { name: 'Shop help', is_public: true });
    const user = await registerUser(t);
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      if (i % 2 === 0) created.push((await visitAs(bot.slug, user.accessToken)).conversation_id);
      else created.push(json(await t.request({ method: 'POST', url: '/v1/conversations', headers: bearer(user.accessToken), payload: {} })).id);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await t.request({ method: 'GET', url: `/v1/conversations?limit=2${cursor ? `&cursor=${cursor}` : ''}`, headers: bearer(user.accessToken) });
      seen.push(...json(page).data.map((c: { id: string }) => c.id));
      cursor = json(page).next_cursor;
    } while (cursor);
    expect(seen).toEqual([...created].reverse());
  });

  it("never yields the user's conversations to a forged or expired token, or to another user", async () => {
    const bot = await createChatbot(t, owner, { name: 'Shop help', is_public: true });
    const hostUser = uniqueUsername('shopper');
    const token = await hostToken(`host-${hostUser}`, hostUser);
    const visit = await visitAs(bot.slug, token);
    expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'my address is 1 Main St' })).statusCode).toBe(201);
    const before = { visitors: await t.count('visitors'), conversations: await t.count('conversations') };

    const forged = await hostToken(`host-${hostUser}`, hostUser, { secret: randomBytes(32).toString('hex') });
    const expired = await hostToken(`host-${hostUser}`, hostUser, { expiresIn: -120 });
    for (const bad of [forged, expired, `${token}x`]) {
      const refused = await startVisitRaw(t, bot.slug, { visitor_id: 'widget-1' }, bearer(bad));
      expect(refused.statusCode, refused.body).toBe(401);
      expect((await t.request({ method: 'GET', url: '/v1/conversations', headers: bearer(bad) })).statusCode).toBe(401);
    }
    expect({ visitors: await t.count('visitors'), conversations: await t.count('conversations') }).toEqual(before);

    // Another user of the host site, and the same label without a token: nothing of theirs.
    const stranger = await hostToken(`host-${uniqueUsername('other')}`, uniqueUsername('other'));
    expect(await conversationsOf(stranger)).toEqual([]);
    expect((await t.request({ method: 'GET', url: `/v1/conversations/${visit.conversation_id}/messages`, headers: bearer(stranger) })).statusCode).toBe(404);
    const anonymous = await visitAs(bot.slug, (await visitAs(bot.slug, stranger)).visitor_token);
    expect((await visitorMessages(t, anonymous.visitor_token, visit.conversation_id)).statusCode).toBe(404);
  });

  it('exports their visit as a document, a long one too (read a page of messages at a time); another user cannot', async () => {
    const bot = await createChatbot(t, owner, { name: 'Shop help', is_public: true });
    const hostUser = uniqueUsername('shopper');
    const token = await hostToken(`host-${hostUser}`, hostUser);
    const visit = await visitAs(bot.slug, token);
    expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Where is my order?' })).statusCode).toBe(201);
    const exportOf = (bearerToken: string) => t.request({ method: 'GET', url: `/v1/conversations/${visit.conversation_id}/export`, headers: bearer(bearerToken) });
    const short = await exportOf(token);
    expect(short.statusCode, short.body).toBe(200);
    expect(json(short).messages.map((m: { content: string }) => m.content)).toEqual(['Where is my order?', expect.any(String)]);

    // Twelve more messages of 500,000 characters: past what a document is read whole up to.
    await t.database.sql.query(
      `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
       SELECT gen_random_uuid(), c.id, c.user_id, 'user', repeat('z', 500000), 'complete', 1, now() FROM conversations c, generate_series(1, 12) WHERE c.id = $1`,
      [visit.conversation_id],
    );
    const long = await exportOf(token);
    expect(long.statusCode).toBe(200);
    expect(json(long).messages).toHaveLength(14);
    const stranger = await hostToken(`host-${uniqueUsername('other')}`, uniqueUsername('other'));
    expect((await exportOf(stranger)).statusCode).toBe(404);
  });
});
