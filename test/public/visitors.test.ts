// Visitors of a public chatbot (§7, §12): a visit starts by slug or id and hands out a visitor
// token the server signed; that token opens that visitor's conversations on that chatbot and
// nothing else. Every refusal leaves nothing stored and never reaches the model.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, parseSse, sendMessage } from '../helpers/chat.js';
import { bearer, manualClock, registerUser, type ManualClock, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, startVisitRaw, visitorMessages, visitorSend } from '../helpers/public.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

let t: TestApp;
let llm: FakeLlm;
let clock: ManualClock;
let owner: RegisteredUser;

beforeAll(async () => {
  llm = await startFakeLlm();
  clock = manualClock(new Date('2026-11-10T12:00:00Z'));
  t = await createTestApp(fakeLlmEnv(llm.url, { RATE_LIMIT_PUBLIC_IP: '10000/1m', RATE_LIMIT_PUBLIC_VISITOR: '10000/1m' }), { clock });
});
afterAll(async () => {
  await t?.close();
  await llm?.close();
});
// Tests move the clock (tokens expire): each begins with an owner signed in now.
beforeEach(async () => {
  llm.reset();
  owner = await registerUser(t);
});

const publicBot = (extra: Record<string, unknown> = {}) => createChatbot(t, owner, { name: 'Front desk', is_public: true, system_prompt: 'Be brief.', ...extra });

/** What a refused request must leave as it was. */
async function stored() {
  return { visitors: await t.count('visitors'), conversations: await t.count('conversations'), messages: await t.count('messages') };
}

describe('a visit', () => {
  it('starts by slug or by id, and the visitor talks to the chatbot with their token (JSON and streamed)', async () => {
    const bot = await publicBot();
    const bySlug = await startVisit(t, bot.slug, { visitorId: 'browser-abc', name: 'Ada' });
    const byId = await startVisit(t, bot.id.toUpperCase(), { visitorId: 'browser-def' });
    expect(bySlug.conversation_id).not.toBe(byId.conversation_id);
    expect(bySlug.visitor_token.split('.')).toHaveLength(3);
    expect(new Date(bySlug.expires_at).getTime() - clock.now().getTime()).toBe(30 * 86_400_000);

    const sent = await visitorSend(t, bySlug.visitor_token, bySlug.conversation_id, { content: 'Do you ship to Norway?' });
    expect(sent.statusCode, sent.body).toBe(201);
    expect(json(sent).reply.content).toBe('You said: Do you ship to Norway?');
    expect(llm.requests).toHaveLength(1);
    expect(llm.requests[0]!.messages[0]).toEqual({ role: 'system', content: expect.stringContaining('Be brief.') });

    const streamed = await visitorSend(t, bySlug.visitor_token, bySlug.conversation_id, { content: 'And to Chile?', stream: true });
    expect(streamed.statusCode).toBe(200);
    const events = parseSse(streamed.body).map((event) => event.event);
    expect(events[0]).toBe('message.start');
    expect(events.at(-1)).toBe('message.end');

    const history = await visitorMessages(t, bySlug.visitor_token, bySlug.conversation_id);
    expect(history.statusCode).toBe(200);
    expect(json(history).data.map((m: { role: string; content: string }) => `${m.role}: ${m.content}`)).toEqual([
      'user: Do you ship to Norway?',
      'assistant: You said: Do you ship to Norway?',
      'user: And to Chile?',
      'assistant: You said: And to Chile?',
    ]);
    const [visitor] = await t.database.sql.query<{ visitor_id: string; name: string | null; user_id: string; id: string }>(
      'SELECT id, visitor_id, name, user_id::text FROM visitors WHERE visitor_id = $1',
      ['browser-abc'],
    );
    expect(visitor).toMatchObject({ visitor_id: 'browser-abc', name: 'Ada', user_id: owner.id });
    // The server's id for the visitor: 128 random bits, never the page's label.
    expect(visitor!.id).toMatch(/^v_[A-Za-z0-9_-]{22}$/);
  });

  it('with the visitor token, starts another conversation for the same visitor and renews the token', async () => {
    const bot = await publicBot();
    const first = await startVisit(t, bot.slug, { visitorId: 'returning' });
    const visitorsBefore = await t.count('visitors');
    clock.advance(3 * 86_400_000);
    const again = await startVisit(t, bot.slug, { visitorId: 'returning', token: first.visitor_token });
    expect(again.conversation_id).not.toBe(first.conversation_id);
    expect(await t.count('visitors')).toBe(visitorsBefore);
    expect(new Date(again.expires_at).getTime()).toBe(new Date(first.expires_at).getTime() + 3 * 86_400_000);
    // Both conversations are this visitor's: either token opens both.
    for (const token of [first.visitor_token, again.visitor_token]) {
      for (const id of [first.conversation_id, again.conversation_id]) expect((await visitorMessages(t, token, id)).statusCode).toBe(200);
    }
    const [seen] = await t.database.sql.query<{ first_seen: Date; last_seen: Date }>(
      "SELECT first_seen, last_seen FROM visitors v JOIN conversations c ON c.visitor_id = v.id WHERE c.id = $1",
      [again.conversation_id],
    );
    expect(new Date(seen!.last_seen).getTime() - new Date(seen!.first_seen).getTime()).toBe(3 * 86_400_000);
  });

  it('keeps visitors out of the owner\'s own list, which the owner reads by id but cannot write into', async () => {
    const bot = await publicBot();
    const visit = await startVisit(t, bot.slug);
    expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'hello' })).statusCode).toBe(201);
    const own = await createConversation(t, owner, { chatbot_id: bot.id });
    const listed = await t.request({ method: 'GET', url: '/v1/conversations?limit=100', headers: bearer(owner.accessToken) });
    const ids = json(listed).data.map((c: { id: string }) => c.id);
    expect(ids).toContain(own.id);
    expect(ids).not.toContain(visit.conversation_id);
    const read = await t.request({ method: 'GET', url: `/v1/conversations/${visit.conversation_id}/messages`, headers: bearer(owner.accessToken) });
    expect(read.statusCode).toBe(200);
    expect(json(read).data).toHaveLength(2);
    llm.reset();
    const before = await stored();
    const written = await sendMessage(t, owner, visit.conversation_id, { content: 'speaking for the visitor' });
    expect(written.statusCode).toBe(404);
    expect(await stored()).toEqual(before);
    expect(llm.requests).toHaveLength(0);
  });

  it('scopes Idempotency-Key to the visitor: two visitors using one key each get their own answer', async () => {
    const bot = await publicBot();
    const a = await startVisit(t, bot.slug, { visitorId: 'a' });
    const b = await startVisit(t, bot.slug, { visitorId: 'b' });
    const key = { 'idempotency-key': 'same-key' };
    const fromA = await visitorSend(t, a.visitor_token, a.conversation_id, { content: 'from a' }, key);
    const fromB = await visitorSend(t, b.visitor_token, b.conversation_id, { content: 'from b' }, key);
    expect(fromA.statusCode).toBe(201);
    expect(fromB.statusCode).toBe(201);
    expect(json(fromB).reply.content).toBe('You said: from b');
    const replayed = await visitorSend(t, a.visitor_token, a.conversation_id, { content: 'from a' }, key);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(json(replayed).reply.id).toBe(json(fromA).reply.id);
  });
});

describe('visitor tokens open one visitor\'s conversations on one chatbot', () => {
  async function refusedWithout(model: () => Promise<{ statusCode: number; body: string }>, status: number) {
    const before = await stored();
    llm.reset();
    const response = await model();
    expect(response.statusCode, response.body).toBe(status);
    expect(JSON.parse(response.body)).toMatchObject({ status });
    expect(await stored()).toEqual(before);
    expect(llm.requests).toHaveLength(0);
  }

  it("another visitor's or another chatbot's conversation is not found, and the model is never called", async () => {
    const bot = await publicBot();
    const other = await publicBot({ name: 'Other desk' });
    const mine = await startVisit(t, bot.slug, { visitorId: 'me' });
    const theirs = await startVisit(t, bot.slug, { visitorId: 'them' });
    const elsewhere = await startVisit(t, other.slug, { visitorId: 'me' });
    await refusedWithout(() => visitorSend(t, mine.visitor_token, theirs.conversation_id, { content: 'peek' }), 404);
    await refusedWithout(() => visitorMessages(t, mine.visitor_token, theirs.conversation_id), 404);
    await refusedWithout(() => visitorSend(t, elsewhere.visitor_token, mine.conversation_id, { content: 'peek' }), 404);
    await refusedWithout(() => visitorMessages(t, elsewhere.visitor_token, mine.conversation_id), 404);
    // An account's own conversation is no visitor's either.
    const own = await createConversation(t, owner, { chatbot_id: bot.id });
    await refusedWithout(() => visitorSend(t, mine.visitor_token, own.id, { content: 'peek' }), 404);
    // And a token for one chatbot does not start a visit at another.
    await refusedWithout(() => startVisitRaw(t, bot.slug, { visitor_id: 'me' }, bearer(elsewhere.visitor_token)), 401);
  });

  it('refuses forged, tampered, expired and wrong-kind tokens with 401', async () => {
    const bot = await publicBot();
    const visit = await startVisit(t, bot.slug);
    const [header, payload, signature] = visit.visitor_token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const other = await startVisit(t, bot.slug, { visitorId: 'victim' });
    const victim = JSON.parse(Buffer.from(other.visitor_token.split('.')[1]!, 'base64url').toString());
    // The payload swapped for the victim's, the signature kept.
    const swapped = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: victim.sub })).toString('base64url')}.${signature}`;
    // Signed with the server's own access-token secret: the visitor key is not that secret.
    const withJwtSecret = await new SignJWT({ ...claims, sub: victim.sub })
      .setProtectedHeader({ alg: 'HS256', typ: 'vt+jwt' })
      .sign(new TextEncoder().encode(t.config.jwtSecret));
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'vt+jwt' })).toString('base64url')}.${payload}.`;
    for (const token of [swapped, withJwtSecret, unsigned, 'not-a-token', `${visit.visitor_token}x`]) {
      await refusedWithout(() => visitorSend(t, token, other.conversation_id, { content: 'peek' }), 401);
      await refusedWithout(() => startVisitRaw(t, bot.slug, { visitor_id: 'x' }, bearer(token)), 401);
    }
    await refusedWithout(() => t.request({ method: 'POST', url: `/v1/public/conversations/${visit.conversation_id}/messages`, payload: { content: 'no token' } }), 401);

    // A user's access token is not a visitor token, and a visitor token is not a user's.
    await refusedWithout(() => visitorSend(t, owner.accessToken, visit.conversation_id, { content: 'as owner' }), 401);
    await refusedWithout(() => sendMessage(t, { ...owner, accessToken: visit.visitor_token }, visit.conversation_id, { content: 'as user' }), 401);
    const listed = await t.request({ method: 'GET', url: '/v1/conversations', headers: bearer(visit.visitor_token) });
    expect(listed.statusCode).toBe(401);

    // Thirty days on, the token has lapsed; a new visit (no token) is the way back.
    clock.advance(31 * 86_400_000);
    await refusedWithout(() => visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'late' }), 401);
    const expired = await visitorMessages(t, visit.visitor_token, visit.conversation_id);
    expect(json(expired).detail).toMatch(/expired/);
  });

  it('a visitor_id that names another visitor is only a label: it opens nothing of theirs', async () => {
    const bot = await publicBot();
    const alice = await startVisit(t, bot.slug, { visitorId: 'alice@example.com' });
    expect((await visitorSend(t, alice.visitor_token, alice.conversation_id, { content: 'my secret order 123' })).statusCode).toBe(201);
    const impostor = await startVisit(t, bot.slug, { visitorId: 'alice@example.com' });
    expect((await visitorMessages(t, impostor.visitor_token, alice.conversation_id)).statusCode).toBe(404);
    const own = await visitorMessages(t, impostor.visitor_token, impostor.conversation_id);
    expect(json(own).data).toEqual([]);
    const rows = await t.database.sql.query<{ n: string }>("SELECT count(DISTINCT id) AS n FROM visitors WHERE visitor_id = 'alice@example.com'");
    expect(Number(rows[0]!.n)).toBe(2);
  });

  it('a chatbot made private closes its visitors\' conversations; a private chatbot starts none', async () => {
    const bot = await publicBot();
    const visit = await startVisit(t, bot.slug);
    const hidden = await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { is_public: false } });
    expect(hidden.statusCode).toBe(200);
    await refusedWithout(() => visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'still there?' }), 404);
    await refusedWithout(() => visitorMessages(t, visit.visitor_token, visit.conversation_id), 404);
    await refusedWithout(() => startVisitRaw(t, bot.id, { visitor_id: 'new' }), 404);
    await refusedWithout(() => startVisitRaw(t, bot.slug, { visitor_id: 'new' }), 404);
    const privateBot = await createChatbot(t, owner, { name: 'Never public' });
    await refusedWithout(() => startVisitRaw(t, privateBot.id, { visitor_id: 'new' }), 404);
  });
});

describe('bad input at the start of a visit', () => {
  it('answers 422 for a 10 KB name, a missing or oversized visitor_id, control characters and unknown fields, storing nothing', async () => {
    const bot = await publicBot();
    const before = await stored();
    for (const body of [
      { visitor_id: 'v', visitor_name: 'n'.repeat(10_000) },
      {},
      { visitor_id: '' },
      { visitor_id: 'x'.repeat(129) },
      { visitor_id: 'tab\there' },
      { visitor_id: 'v', is_admin: true },
      { visitor_id: 42 },
    ]) {
      const response = await startVisitRaw(t, bot.slug, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(422);
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
    const malformed = await t.request({ method: 'POST', url: `/v1/public/chatbots/${bot.slug}/conversations`, headers: { 'content-type': 'application/json' }, payload: '{"visitor_id":' });
    expect(malformed.statusCode).toBe(400);
    expect(await stored()).toEqual(before);
  });
});
