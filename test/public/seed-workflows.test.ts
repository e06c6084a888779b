// The seeds' visitor workflows end to end over HTTP, with the builtin offline responder (no model
// configured, as `npm start` on a fresh clone):
// - seed 001, a personal chatbot that answers about its owner from their profile: the owner writes
//   the profile and publishes the chatbot, a visitor asks about them, the owner finds the visitor in
//   the inbox, reads the conversation and marks it read;
// - seed 002, the embeddable widget's session: a session for a chatbot id, messages (JSON and
//   streamed), a reload that reads the history back with the stored token, and a returning visitor
//   starting a second conversation.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, parseSse } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startVisit, visitorMessages, visitorSend } from '../helpers/public.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_PUBLIC_IP: '10000/1m', RATE_LIMIT_PUBLIC_VISITOR: '10000/1m' });
});
afterAll(async () => {
  await t?.close();
});

const suffix = () => randomBytes(3).toString('hex');
const lines = (messages: Array<{ role: string; content: string }>) => messages.map((m) => `${m.role}: ${m.content}`);

describe('seed 001: a portfolio chatbot answers visitors about its owner from their profile', () => {
  const PROFILE = {
    name: 'Grace Hopper',
    location: 'Arlington, Virginia',
    bio: 'Computer scientist and rear admiral who made programming languages speak English.',
    skills: 'COBOL, compilers, FLOW-MATIC, debugging',
    experience: 'Harvard Mark I programmer; led the UNIVAC compiler team at Remington Rand.',
    interests: 'Teaching, nanoseconds, sailing',
  };

  it('from profile to published chatbot, a visitor\'s questions, and the owner\'s inbox', async () => {
    // The owner signs up, writes the profile and publishes a chatbot that uses it.
    const owner = await registerUser(t);
    const auth = bearer(owner.accessToken);
    const saved = await t.request({ method: 'PUT', url: '/v1/profile', headers: auth, payload: PROFILE });
    expect(saved.statusCode, saved.body).toBe(200);
    const slug = `grace-${suffix()}`;
    const bot = await createChatbot(t, owner, {
      name: 'Ask about Grace',
      description: 'Questions about my work',
      greeting: 'Hi! Ask me about Grace.',
      slug,
      is_public: true,
      use_profile: true,
    });
    expect(bot).toMatchObject({ slug, is_public: true, use_profile: true });

    // The public pages: the profile, and the chatbot by slug and by id.
    const profile = await t.request({ method: 'GET', url: `/v1/public/profiles/${owner.username}` });
    expect(profile.statusCode, profile.body).toBe(200);
    expect(json(profile)).toEqual({ username: owner.username, ...PROFILE });
    for (const key of [slug, bot.id]) {
      const page = await t.request({ method: 'GET', url: `/v1/public/chatbots/${key}` });
      expect(page.statusCode, page.body).toBe(200);
      expect(json(page)).toEqual({
        id: bot.id,
        slug,
        name: 'Ask about Grace',
        description: 'Questions about my work',
        greeting: 'Hi! Ask me about Grace.',
        max_message_chars: 32000,
        owner: { username: owner.username },
      });
    }

    // A visitor opens the chatbot by its slug and asks about the owner.
    const visit = await startVisit(t, slug, { visitorId: 'visitor-7f3a', name: 'Alan' });
    const greeted = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Hello!' });
    expect(greeted.statusCode, greeted.body).toBe(201);
    expect(json(greeted).reply.content).toBe('Hi! Ask me about Grace.');
    const skills = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'What are her skills?' });
    expect(skills.statusCode, skills.body).toBe(201);
    expect(json(skills).reply.content).toBe(`Skills: ${PROFILE.skills}`);
    const where = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Where is she based?' });
    expect(json(where).reply.content).toBe(`Location: ${PROFILE.location}`);
    // A second visitor, who came by the chatbot's id and gave no name.
    const byId = await startVisit(t, bot.id, { visitorId: 'visitor-9c1d' });
    const work = await visitorSend(t, byId.visitor_token, byId.conversation_id, { content: 'Tell me about her work experience.' });
    expect(json(work).reply.content).toBe(`Experience: ${PROFILE.experience}`);

    // The owner's inbox: both visitors, the latest first, with what they have not read.
    const inbox = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/conversations`, headers: auth });
    expect(inbox.statusCode, inbox.body).toBe(200);
    const rows = json(inbox).data;
    expect(rows.map((r: { conversation_id: string }) => r.conversation_id)).toEqual([byId.conversation_id, visit.conversation_id]);
    expect(rows[1]).toMatchObject({
      visitor: { visitor_id: 'visitor-7f3a', name: 'Alan' },
      unread_count: 3,
      last_message: { id: json(where).reply.id, role: 'assistant', content: `Location: ${PROFILE.location}` },
    });
    expect(rows[0]).toMatchObject({ visitor: { visitor_id: 'visitor-9c1d', name: null }, unread_count: 1 });
    // Visitors' conversations are not the owner's own.
    const own = json(await t.request({ method: 'GET', url: '/v1/conversations', headers: auth }));
    expect(own.data).toEqual([]);

    // The owner reads the conversation and marks it read.
    const history = await t.request({ method: 'GET', url: `/v1/conversations/${visit.conversation_id}/messages`, headers: auth });
    expect(history.statusCode).toBe(200);
    expect(lines(json(history).data)).toEqual([
      'user: Hello!',
      'assistant: Hi! Ask me about Grace.',
      'user: What are her skills?',
      `assistant: Skills: ${PROFILE.skills}`,
      'user: Where is she based?',
      `assistant: Location: ${PROFILE.location}`,
    ]);
    const read = await t.request({ method: 'POST', url: `/v1/conversations/${visit.conversation_id}/read`, headers: auth });
    expect(read.statusCode, read.body).toBe(200);
    expect(json(read)).toEqual({ conversation_id: visit.conversation_id, unread_count: 0 });
    const after = json(await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/conversations`, headers: auth })).data;
    expect(after.map((r: { unread_count: number }) => r.unread_count)).toEqual([1, 0]);
    expect(after.map((r: { conversation_id: string }) => r.conversation_id)).toEqual([byId.conversation_id, visit.conversation_id]);

    // Another account sees none of it.
    const stranger = await registerUser(t);
    expect((await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/conversations`, headers: bearer(stranger.accessToken) })).statusCode).toBe(404);
    expect((await t.request({ method: 'GET', url: `/v1/conversations/${visit.conversation_id}/messages`, headers: bearer(stranger.accessToken) })).statusCode).toBe(404);
  });
});

describe("seed 002: the widget's session", () => {
  const ORIGIN = 'https://shop.example';
  const SHIPPING = 'We ship to Norway, Sweden and Denmark within five working days.';

  it('a session for a chatbot id, messages in JSON and streamed, a reload, and a returning visitor', async () => {
    const owner = await registerUser(t);
    const auth = bearer(owner.accessToken);
    const bot = await createChatbot(t, owner, { name: 'Shop assistant', greeting: 'Welcome to the shop!', is_public: true, allowed_origins: [ORIGIN] });
    const doc = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/knowledge`, headers: auth, payload: { title: 'Shipping', content: SHIPPING } });
    expect(doc.statusCode, doc.body).toBe(201);
    const page = { origin: ORIGIN };

    // The widget on the shop's page opens a session for the chatbot id.
    const session = await startVisit(t, bot.id, { visitorId: 'widget-5e2b', origin: ORIGIN });
    expect(session).toEqual({ conversation_id: expect.any(String), visitor_token: expect.any(String), expires_at: expect.any(String) });

    // A message answered as JSON, with the shop's origin allowed back.
    const hello = await visitorSend(t, session.visitor_token, session.conversation_id, { content: 'hello' }, page);
    expect(hello.statusCode, hello.body).toBe(201);
    expect(hello.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(json(hello)).toMatchObject({ user_message: { role: 'user', content: 'hello' }, reply: { role: 'assistant', content: 'Welcome to the shop!', status: 'complete' } });

    // A message streamed, as the widget asks for it.
    const streamed = await visitorSend(t, session.visitor_token, session.conversation_id, { content: 'Do you ship to Norway?' }, { ...page, accept: 'text/event-stream' });
    expect(streamed.statusCode, streamed.body).toBe(200);
    expect(streamed.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = parseSse(streamed.body);
    expect(events[0]!.event).toBe('message.start');
    expect(events.at(-1)!.event).toBe('message.end');
    const deltas = events.filter((e) => e.event === 'message.delta').map((e) => e.data.delta as string);
    expect(deltas.length).toBeGreaterThan(1);
    const reply = events.at(-1)!.data.reply;
    expect(reply.content).toContain(SHIPPING);
    expect(deltas.join('')).toBe(reply.content);

    // A reload: the widget reads the conversation back with the token it stored.
    const reloaded = await visitorMessages(t, session.visitor_token, session.conversation_id, page);
    expect(reloaded.statusCode, reloaded.body).toBe(200);
    expect(lines(json(reloaded).data)).toEqual([
      'user: hello',
      'assistant: Welcome to the shop!',
      'user: Do you ship to Norway?',
      `assistant: ${reply.content}`,
    ]);
    expect(json(reloaded).data.at(-1).id).toBe(reply.id);

    // Without the shop's origin, the chatbot that names its origins refuses.
    const foreign = await visitorMessages(t, session.visitor_token, session.conversation_id, { origin: 'https://elsewhere.example' });
    expect(foreign.statusCode).toBe(403);
    expect(json(foreign).code).toBe('origin_not_allowed');

    // The visitor comes back another day: the stored token starts a second conversation.
    const second = await startVisit(t, bot.id, { visitorId: 'widget-5e2b', token: session.visitor_token, origin: ORIGIN });
    expect(second.conversation_id).not.toBe(session.conversation_id);
    const fresh = await visitorMessages(t, second.visitor_token, second.conversation_id, page);
    expect(json(fresh).data).toEqual([]);
    const asked = await visitorSend(t, second.visitor_token, second.conversation_id, { content: 'Which countries do you ship to?' }, page);
    expect(asked.statusCode, asked.body).toBe(201);
    expect(json(asked).reply.content).toContain(SHIPPING);
    // The new token still opens the first conversation: it is the same visitor.
    expect((await visitorMessages(t, second.visitor_token, session.conversation_id, page)).statusCode).toBe(200);

    // The owner's inbox holds both conversations, one visitor, one recorded visitor row.
    const inbox = json(await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/conversations`, headers: auth })).data;
    expect(inbox.map((r: { conversation_id: string }) => r.conversation_id)).toEqual([second.conversation_id, session.conversation_id]);
    expect(inbox.map((r: { visitor: { visitor_id: string } }) => r.visitor.visitor_id)).toEqual(['widget-5e2b', 'widget-5e2b']);
    expect(inbox.map((r: { unread_count: number }) => r.unread_count)).toEqual([1, 2]);
    const visitors = await t.database.sql.query<{ n: number | string }>('SELECT count(*) AS n FROM visitors WHERE chatbot_id = $1', [bot.id]);
    expect(Number(visitors[0]!.n)).toBe(1);
  });
});
