import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

// §5 Chatbots, §12 Chatbots; the default chatbot every user gets on first need.

const URL_SAFE_SLUG = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
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

const post = (user: RegisteredUser, payload: Record<string, unknown>, app: TestApp = t) =>
  app.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(user.accessToken), payload });
const get = (user: RegisteredUser, url: string) => t.request({ method: 'GET', url, headers: bearer(user.accessToken) });
const patch = (user: RegisteredUser, id: string, payload: unknown) =>
  t.request({ method: 'PATCH', url: `/v1/chatbots/${id}`, headers: bearer(user.accessToken), payload: payload as object });
const remove = (user: RegisteredUser, id: string) => t.request({ method: 'DELETE', url: `/v1/chatbots/${id}`, headers: bearer(user.accessToken) });

describe('POST /v1/chatbots', () => {
  it('creates a chatbot with its defaults and a slug made from the name, unique across users', async () => {
    const alice = await registerUser(t);
    const response = await post(alice, { name: 'Acme Support' });
    expect(response.statusCode, response.body).toBe(201);
    const bot = json(response);
    expect(bot).toMatchObject({
      name: 'Acme Support',
      description: '',
      slug: 'acme-support',
      is_public: false,
      is_default: false,
      model: 'builtin',
      use_profile: false,
      allowed_origins: [],
    });
    expect(bot.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(new Date(bot.created_at).toISOString()).toBe(bot.created_at);
    expect(bot.updated_at).toBe(bot.created_at);

    const mine = json(await post(alice, { name: 'Acme Support' }));
    expect(mine.slug).toBe('acme-support-2');
    const bob = await registerUser(t);
    const theirs = await post(bob, { name: 'Acme  Support!' });
    expect(theirs.statusCode).toBe(201);
    expect(json(theirs).slug).toBe('acme-support-3');
  });

  it('gives a name with no Latin letters a usable, unique slug', async () => {
    const user = await registerUser(t);
    const first = json(await post(user, { name: '客服機器人' }));
    const second = json(await post(user, { name: 'গ্রাহক সহায়তা' }));
    expect(first.name).toBe('客服機器人');
    for (const bot of [first, second]) expect(bot.slug).toMatch(URL_SAFE_SLUG);
    expect(first.slug).not.toBe(second.slug);
  });

  it('keeps an explicit slug and answers 409 slug_taken when another user asks for it', async () => {
    const owner = await registerUser(t);
    const other = await registerUser(t);
    const created = await post(owner, { name: 'Bot', slug: 'taken-slug-x1' });
    expect(created.statusCode).toBe(201);
    expect(json(created).slug).toBe('taken-slug-x1');
    const before = await t.count('chatbots');
    expectProblem(await post(other, { name: 'Other', slug: 'taken-slug-x1' }), 409, 'slug_taken');
    expectProblem(await post(owner, { name: 'Again', slug: 'taken-slug-x1' }), 409, 'slug_taken');
    expect(await t.count('chatbots')).toBe(before);
  });

  it.each([['Has Space'], ['UPPER'], ['-leading'], ['trailing-'], ['under_score'], [''], ['a'.repeat(65)], ['ünïcode']])(
    'refuses the slug %j with 422',
    async (slug) => {
      const user = await registerUser(t);
      const body = expectProblem(await post(user, { name: 'Bot', slug }), 422, 'validation_failed');
      expect(body.errors.map((e: { path: string }) => e.path)).toContain('body.slug');
    },
  );

  it('refuses a model the server does not offer, an unknown field and a missing or blank name with 422', async () => {
    const user = await registerUser(t);
    const before = await t.count('chatbots');
    const model = expectProblem(await post(user, { name: 'Bot', model: 'gpt-4o' }), 422, 'validation_failed');
    expect(model.errors[0].path).toBe('body.model');
    expectProblem(await post(user, { name: 'Bot', owner: 'someone' }), 422, 'validation_failed');
    expectProblem(await post(user, {}), 422, 'validation_failed');
    expectProblem(await post(user, { name: '   ' }), 422, 'validation_failed');
    expect(await t.count('chatbots')).toBe(before);
  });

  describe('with LLM_MODELS=a,b', () => {
    let multi: TestApp;
    beforeAll(async () => {
      multi = await createTestApp({ LLM_PROVIDER: 'openai-compatible', LLM_BASE_URL: 'http://127.0.0.1:9/v1', LLM_MODEL: 'a', LLM_MODELS: 'a,b' });
    });
    afterAll(async () => {
      await multi.close();
    });

    it('defaults to LLM_MODEL, accepts another allowed model and refuses the rest', async () => {
      const user = await registerUser(multi);
      expect(json(await post(user, { name: 'Default' }, multi)).model).toBe('a');
      const b = await post(user, { name: 'Bee', model: 'b' }, multi);
      expect(b.statusCode, b.body).toBe(201);
      expect(json(b).model).toBe('b');
      expectProblem(await post(user, { name: 'Sea', model: 'c' }, multi), 422, 'validation_failed');
      expectProblem(await post(user, { name: 'Builtin', model: 'builtin' }, multi), 422, 'validation_failed');
    });
  });
});

describe('GET /v1/chatbots', () => {
  it('lists only your chatbots, newest first, page by page with no duplicates or gaps', async () => {
    const user = await registerUser(t);
    const stranger = await registerUser(t);
    await createChatbot(t, stranger, { name: 'Not yours' });
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await createChatbot(t, user, { name: `Paged ${i}` })).id);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await get(user, `/v1/chatbots?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(response.statusCode, response.body).toBe(200);
      const page = json(response);
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((bot: { id: string }) => bot.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([...created].reverse());

    const all = json(await get(user, '/v1/chatbots'));
    expect(all.next_cursor).toBeNull();
    expect(all.data.map((bot: { id: string }) => bot.id)).toEqual([...created].reverse());
  });

  it('answers 422 to a tampered cursor and to a limit outside 1–100', async () => {
    const user = await registerUser(t);
    for (let i = 0; i < 3; i++) await createChatbot(t, user, { name: `Cursor ${i}` });
    const cursor = json(await get(user, '/v1/chatbots?limit=1')).next_cursor as string;
    expect(cursor).toEqual(expect.any(String));
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as string[];
    const tampered = [
      'not-a-cursor!!',
      Buffer.from(JSON.stringify([decoded[0], "x' OR 1=1 --"])).toString('base64url'),
      Buffer.from(JSON.stringify(['yesterday', decoded[1]])).toString('base64url'),
      Buffer.from(JSON.stringify([decoded[0]])).toString('base64url'),
      Buffer.from('{"a":1}').toString('base64url'),
    ];
    for (const bad of tampered) {
      expectProblem(await get(user, `/v1/chatbots?cursor=${encodeURIComponent(bad)}`), 422, 'validation_failed');
    }
    expectProblem(await get(user, '/v1/chatbots?limit=0'), 422, 'validation_failed');
    expectProblem(await get(user, '/v1/chatbots?limit=101'), 422, 'validation_failed');
  });

  it('answers 403 to ?all=true from a non-admin, and lists every user\'s chatbots to an admin', async () => {
    const user = await registerUser(t);
    const other = await registerUser(t);
    const theirs = await createChatbot(t, other, { name: 'Someone else' });
    expectProblem(await get(user, '/v1/chatbots?all=true'), 403, 'forbidden');

    const admin = await registerUser(t);
    await t.database.sql.query("UPDATE users SET role = 'admin' WHERE id = $1", [admin.id]);
    const login = await t.request({ method: 'POST', url: '/v1/auth/login', payload: { username: admin.username, password: admin.password } });
    expect(login.statusCode).toBe(200);
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await t.request({
        method: 'GET',
        url: `/v1/chatbots?all=true&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        headers: bearer(json(login).access_token),
      });
      expect(response.statusCode, response.body).toBe(200);
      ids.push(...json(response).data.map((bot: { id: string }) => bot.id));
      cursor = json(response).next_cursor;
    } while (cursor);
    expect(ids).toContain(theirs.id);
  });
});

describe('GET/PATCH/DELETE /v1/chatbots/{id}', () => {
  it('reads one chatbot', async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { name: 'Reader', description: 'Reads', greeting: 'Hi there' });
    const response = await get(user, `/v1/chatbots/${bot.id}`);
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual(bot);
    const upper = await get(user, `/v1/chatbots/${bot.id.toUpperCase()}`);
    expect(upper.statusCode).toBe(200);
    expect(json(upper).id).toBe(bot.id);
  });

  it('changes every writable field and keeps the changes', async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { name: 'Before' });
    const changes = {
      name: 'After',
      description: 'A new description',
      slug: 'after-bot-x1',
      is_public: true,
      system_prompt: 'You answer briefly.',
      greeting: 'Welcome back!',
      model: 'builtin',
      temperature: 0.3,
      max_tokens: 256,
      use_profile: true,
      allowed_origins: ['https://example.com', 'http://localhost:3000'],
      token_budget_monthly: 100000,
    };
    const response = await patch(user, bot.id, changes);
    expect(response.statusCode, response.body).toBe(200);
    const updated = json(response);
    expect(updated).toMatchObject({ ...changes, temperature: expect.closeTo(0.3, 5), id: bot.id, created_at: bot.created_at });
    expect(Date.parse(updated.updated_at)).toBeGreaterThanOrEqual(Date.parse(bot.updated_at));
    expect(json(await get(user, `/v1/chatbots/${bot.id}`))).toEqual(updated);

    const cleared = json(await patch(user, bot.id, { temperature: null, max_tokens: null, token_budget_monthly: null, allowed_origins: [] }));
    expect(cleared).toMatchObject({ temperature: null, max_tokens: null, token_budget_monthly: null, allowed_origins: [], name: 'After' });
  });

  it('refuses an empty, unknown or invalid change with 422, and a taken slug with 409, changing nothing', async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { name: 'Stable' });
    await createChatbot(t, user, { name: 'Holder', slug: 'holder-slug-x1' });
    expectProblem(await patch(user, bot.id, {}), 422, 'validation_failed');
    expectProblem(await patch(user, bot.id, { colour: 'blue' }), 422, 'validation_failed');
    expectProblem(await patch(user, bot.id, { model: 'unknown-model' }), 422, 'validation_failed');
    expectProblem(await patch(user, bot.id, { temperature: 3 }), 422, 'validation_failed');
    expectProblem(await patch(user, bot.id, { slug: 'Not OK' }), 422, 'validation_failed');
    expectProblem(await patch(user, bot.id, { slug: 'holder-slug-x1' }), 409, 'slug_taken');
    expect(json(await get(user, `/v1/chatbots/${bot.id}`))).toEqual(bot);
  });

  it('deletes a chatbot with its conversations: 204, then 404', async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { name: 'Doomed' });
    const keep = await createChatbot(t, user, { name: 'Kept' });
    const doomed = await createConversation(t, user, { chatbot_id: bot.id });
    const kept = await createConversation(t, user, { chatbot_id: keep.id });

    const response = await remove(user, bot.id);
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expectProblem(await get(user, `/v1/chatbots/${bot.id}`), 404, 'not_found');
    expectProblem(await remove(user, bot.id), 404, 'not_found');
    expectProblem(await patch(user, bot.id, { name: 'Ghost' }), 404, 'not_found');
    expectProblem(await get(user, `/v1/conversations/${doomed.id}`), 404, 'not_found');
    expect(json(await get(user, `/v1/conversations/${kept.id}`)).id).toBe(kept.id);
    const rows = await t.database.sql.query('SELECT id FROM conversations WHERE chatbot_id = $1', [bot.id]);
    expect(rows).toHaveLength(0);
  });

  it('answers 404 to an id that is not a chatbot', async () => {
    const user = await registerUser(t);
    expectProblem(await get(user, '/v1/chatbots/not-a-uuid'), 404, 'not_found');
    expectProblem(await get(user, '/v1/chatbots/0190f5a0-0000-7000-8000-000000000000'), 404, 'not_found');
  });
});

describe('the default chatbot', () => {
  it('is created on first need by POST /v1/conversations {} and reused afterwards', async () => {
    const user = await registerUser(t);
    expect(json(await get(user, '/v1/chatbots')).data).toEqual([]);
    const first = await createConversation(t, user, {});
    const second = await createConversation(t, user, {});
    expect(second.chatbot_id).toBe(first.chatbot_id);
    const bots = json(await get(user, '/v1/chatbots')).data;
    expect(bots).toHaveLength(1);
    expect(bots[0]).toMatchObject({ id: first.chatbot_id, is_default: true, model: 'builtin', is_public: false });
    expect(bots[0].slug).toMatch(URL_SAFE_SLUG);
    // A chatbot created explicitly is not the default and does not replace it.
    await createChatbot(t, user, { name: 'Explicit' });
    expect((await createConversation(t, user)).chatbot_id).toBe(first.chatbot_id);
  });

  it('stays one default chatbot under five concurrent first requests', async () => {
    const user = await registerUser(t);
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => t.request({ method: 'POST', url: '/v1/conversations', headers: bearer(user.accessToken), payload: {} })),
    );
    for (const response of responses) expect(response.statusCode, response.body).toBe(201);
    const chatbotIds = new Set(responses.map((response) => json(response).chatbot_id));
    expect(chatbotIds.size).toBe(1);
    const bots = json(await get(user, '/v1/chatbots')).data;
    expect(bots).toHaveLength(1);
    expect(bots[0].is_default).toBe(true);
    expect(json(await get(user, '/v1/conversations')).data).toHaveLength(5);
  });
});
