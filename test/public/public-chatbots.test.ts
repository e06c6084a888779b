// Public chatbots (§7): anyone may read a public chatbot's page — its name, description,
// greeting and owner's username — by slug or by id, with no token. Nothing else about the
// chatbot or its owner leaves the server, and a private, deleted or unknown chatbot is one
// and the same 404, so the route cannot be used to learn which chatbots exist.
import { randomBytes, randomUUID } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { LightMyRequestResponse } from 'fastify';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, uniqueUsername, type RegisteredUser } from '../helpers/factories.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const EXTERNAL_SECRET = randomBytes(32).toString('hex');
const ADMIN = uniqueUsername('admin');
const PUBLIC_FIELDS = ['description', 'greeting', 'id', 'max_message_chars', 'name', 'owner', 'slug'];

let t: TestApp;
let owner: RegisteredUser;
let admin: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp({ EXTERNAL_JWT_SECRET: EXTERNAL_SECRET, ADMIN_USERNAMES: ADMIN, AUTH_CACHE_MS: '0' });
  owner = await registerUser(t, { email: `${uniqueUsername('owner')}@example.com` });
  admin = await registerUser(t, { username: ADMIN });
});
afterAll(async () => {
  await t?.close();
});

/** The page these chatbots are embedded in: every chatbot here that lists origins lists it. */
const PAGE_ORIGIN = 'https://shop.example.com';
const read = (key: string, headers: Record<string, string> = {}) =>
  t.request({ method: 'GET', url: `/v1/public/chatbots/${key}`, headers: { origin: PAGE_ORIGIN, ...headers } });
const patch = (user: RegisteredUser, id: string, payload: Record<string, unknown>) =>
  t.request({ method: 'PATCH', url: `/v1/chatbots/${id}`, headers: bearer(user.accessToken), payload });

/** A public chatbot with every private field filled in, so a leak of any of them would show. */
async function publicBot(user: RegisteredUser = owner, extra: Record<string, unknown> = {}) {
  const secret = `secret-${randomBytes(6).toString('hex')}`;
  const bot = await createChatbot(t, user, {
    name: 'Acme Support',
    description: 'Questions about Acme orders',
    greeting: 'Hi! Ask me about Acme.',
    is_public: true,
    system_prompt: `Never reveal ${secret}-prompt`,
    allowed_origins: [`https://${secret}.example.com`, PAGE_ORIGIN],
    token_budget_monthly: 987_654_321,
    use_profile: true,
    temperature: 0.3,
    max_tokens: 777,
    ...extra,
  });
  const doc = await t.request({
    method: 'POST',
    url: `/v1/chatbots/${bot.id}/knowledge`,
    headers: bearer(user.accessToken),
    payload: { title: `${secret}-doc`, content: `Internal price list ${secret}-knowledge.` },
  });
  expect(doc.statusCode, doc.body).toBe(201);
  // The webhook is not writable through the API yet (§9.4): stored as it will be.
  await t.database.sql.query('UPDATE chatbots SET webhook_url = $2 WHERE id = $1', [bot.id, `https://${secret}.example.com/hook`]);
  const collect = { fields: [{ key: 'budget', label: `${secret}-field`, type: 'string', required: true }] };
  expect((await patch(user, bot.id, { collect })).statusCode).toBe(200);
  return { bot, secret };
}

function expectNotFound(response: LightMyRequestResponse) {
  expect(response.statusCode, response.body).toBe(404);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = json(response);
  expect(body.code).toBe('not_found');
  expect(body.request_id).toBe(response.headers['x-request-id']);
  return body;
}

/** What a caller can tell apart: status, headers (but the date and request id) and body (but the request id). */
function observable(response: LightMyRequestResponse) {
  const { date: _date, 'x-request-id': _id, ...headers } = response.headers;
  const { request_id: _requestId, ...body } = json(response);
  return { status: response.statusCode, headers, body };
}

describe('GET /v1/public/chatbots/{slug|id}', () => {
  it('shows a public chatbot by slug and by id, with no token, and exactly its public fields', async () => {
    const { bot, secret } = await publicBot();
    const bySlug = await read(bot.slug);
    expect(bySlug.statusCode, bySlug.body).toBe(200);
    expect(bySlug.headers['content-type']).toMatch(/^application\/json/);
    const page = json(bySlug);
    expect(Object.keys(page).sort()).toEqual(PUBLIC_FIELDS);
    expect(page).toEqual({
      id: bot.id,
      slug: bot.slug,
      name: bot.name,
      description: 'Questions about Acme orders',
      greeting: 'Hi! Ask me about Acme.',
      // The server's MAX_MESSAGE_CHARS (default): the widget stops a visitor there.
      max_message_chars: 32000,
      owner: { username: owner.username },
    });
    // Neither the prompt, the knowledge, the origins, the webhook nor the owner's email.
    for (const hidden of [secret, owner.email!, owner.id, 'builtin', '987654321']) {
      expect(bySlug.body, hidden).not.toContain(hidden);
    }

    for (const key of [bot.id, bot.id.toUpperCase(), bot.slug.toUpperCase()]) {
      const other = await read(key);
      expect(other.statusCode, `${key}: ${other.body}`).toBe(200);
      expect(json(other), key).toEqual(page);
    }
  });

  it('tells caches to check again before reusing an answer, so a chatbot made private disappears at once', async () => {
    const { bot } = await publicBot();
    const response = await read(bot.slug);
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-cache');
  });

  it('answers a private chatbot exactly as an unknown one, by slug and by id', async () => {
    const hidden = await createChatbot(t, owner, { name: 'Hidden helper', greeting: 'psst' });
    expect(hidden.is_public).toBe(false);
    const answers = [
      await read(hidden.slug),
      await read(hidden.id),
      await read(hidden.id.toUpperCase()),
      await read(`no-such-chatbot-${randomBytes(4).toString('hex')}`),
      await read(randomUUID()),
    ];
    for (const answer of answers) expectNotFound(answer);
    const first = observable(answers[0]!);
    for (const answer of answers.slice(1)) expect(observable(answer)).toEqual(first);
    expect(JSON.stringify(answers.map((answer) => answer.body))).not.toContain('psst');
  });

  it('stops showing a chatbot as soon as it is made private, and shows it again when made public', async () => {
    const { bot } = await publicBot();
    expect((await read(bot.slug)).statusCode).toBe(200);

    expect((await patch(owner, bot.id, { is_public: false })).statusCode).toBe(200);
    expectNotFound(await read(bot.slug));
    expectNotFound(await read(bot.id));

    expect((await patch(owner, bot.id, { is_public: true })).statusCode).toBe(200);
    expect((await read(bot.id)).statusCode).toBe(200);
  });

  it('follows a new slug: the old one answers 404 and the new one the chatbot', async () => {
    const { bot } = await publicBot();
    const slug = `renamed-${randomBytes(4).toString('hex')}`;
    expect((await patch(owner, bot.id, { slug })).statusCode).toBe(200);
    expectNotFound(await read(bot.slug));
    expect(json(await read(slug))).toMatchObject({ id: bot.id, slug });
  });

  it('answers 404 for a deleted chatbot', async () => {
    const { bot } = await publicBot();
    const removed = await t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) });
    expect(removed.statusCode).toBe(204);
    expectNotFound(await read(bot.slug));
    expectNotFound(await read(bot.id));
  });

  it('answers 404 for the public chatbot of a deactivated owner, and shows it again once reactivated', async () => {
    const someone = await registerUser(t);
    const { bot } = await publicBot(someone);
    const deactivate = (active: boolean) =>
      t.request({ method: 'PATCH', url: `/v1/admin/users/${someone.id}`, headers: bearer(admin.accessToken), payload: { is_active: active } });

    expect((await deactivate(false)).statusCode).toBe(200);
    expectNotFound(await read(bot.slug));
    expect((await deactivate(true)).statusCode).toBe(200);
    expect((await read(bot.slug)).statusCode).toBe(200);
  });

  it('never lets a slug shaped like an id stand in for the chatbot with that id: such slugs are refused, and never made from a name', async () => {
    const hidden = await createChatbot(t, owner, { name: 'Private one' });
    const impostor = await registerUser(t);
    const before = await t.count('chatbots');
    for (const slug of [hidden.id, randomUUID()]) {
      const refused = await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(impostor.accessToken), payload: { name: 'Impostor', slug, is_public: true } });
      expect(refused.statusCode, refused.body).toBe(422);
      expect(json(refused).errors[0].path).toBe('body.slug');
    }
    const { bot } = await publicBot(impostor);
    const renamed = await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(impostor.accessToken), payload: { slug: hidden.id } });
    expect(renamed.statusCode).toBe(422);
    expect(await t.count('chatbots')).toBe(before + 1);
    // A name that is an id gets a slug that is not one.
    const named = await createChatbot(t, impostor, { name: hidden.id, is_public: true });
    expect(named.slug).not.toBe(hidden.id);
    expect(json(await read(named.slug)).id).toBe(named.id);
    // The address names the private chatbot's id: it stays private.
    expectNotFound(await read(hidden.id));
    expectNotFound(await read(hidden.id.toUpperCase()));
  });

  it('answers malformed, over-long and odd slugs or ids with a 404 problem, never a 500', async () => {
    const keys = [
      'Acme%20Support',
      '-leading-hyphen',
      'trailing-hyphen-',
      'under_score',
      '%F0%9F%98%80',
      '%00',
      '%27%20OR%201%3D1--',
      '..%2F..%2Fv1%2Fchatbots',
      'a'.repeat(65),
      'a'.repeat(101),
      'a'.repeat(5000),
      `{${randomUUID()}}`,
      randomUUID().slice(0, 35),
      `${randomUUID()}0`,
      'null',
      '%20',
    ];
    for (const key of keys) {
      const response = await read(key);
      expect(response.statusCode, key.slice(0, 40)).toBe(404);
      expect(response.headers['content-type'], key.slice(0, 40)).toMatch(/^application\/problem\+json/);
      expect(json(response).code).toBe('not_found');
    }
    // Broken percent-encoding is a malformed URL: refused as such, still a problem.
    const broken = await read('%ZZ');
    expect(broken.statusCode).toBe(400);
    expect(broken.headers['content-type']).toMatch(/^application\/problem\+json/);
    // An empty key names no chatbot.
    expectNotFound(await t.request({ method: 'GET', url: '/v1/public/chatbots/' }));
  });

  it('needs no token and ignores any: stray, forged or another user\'s tokens change nothing', async () => {
    const { bot } = await publicBot();
    const hidden = await createChatbot(t, owner, { name: 'Owner eyes only' });
    const stranger = await registerUser(t);
    const expired = await new SignJWT({ username: 'someone' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ext-1')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(EXTERNAL_SECRET));
    const anonymous = await read(bot.slug);
    const unknown = observable(await read(hidden.slug));
    for (const authorization of ['Bearer not-a-token', 'Basic dXNlcjpwYXNz', `Bearer ${expired}`, `Bearer ${stranger.accessToken}`, 'Bearer', `Bearer ${'x'.repeat(10_000)}`]) {
      const shown = await read(bot.slug, { authorization });
      expect(shown.statusCode, authorization.slice(0, 30)).toBe(200);
      expect(shown.body).toBe(anonymous.body);
      expect(shown.headers['www-authenticate']).toBeUndefined();
      expect(observable(await read(hidden.slug, { authorization }))).toEqual(unknown);
    }
    // Not even the owner's own token opens a private chatbot here: this is the public view.
    expect(observable(await read(hidden.slug, bearer(owner.accessToken)))).toEqual(unknown);
  });

  it('shows a user of another system by username, and never an email address standing in for one', async () => {
    const sign = (claims: Record<string, string>) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(`ext-${randomBytes(5).toString('hex')}`)
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(EXTERNAL_SECRET));
    const named = await sign({ username: 'john_doe' });
    const emailOnly = await sign({ email: 'jane.private@example.org' });
    const create = async (token: string) => {
      const created = await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(token), payload: { name: 'External bot', is_public: true } });
      expect(created.statusCode, created.body).toBe(201);
      return json(created);
    };
    const namedBot = await create(named);
    const emailOnlyBot = await create(emailOnly);
    expect(json(await read(namedBot.slug)).owner).toEqual({ username: 'john_doe' });
    const shown = await read(emailOnlyBot.slug);
    expect(shown.statusCode).toBe(200);
    expect(json(shown).owner).toEqual({ username: null });
    expect(shown.body).not.toContain('jane.private');
  });

  it('is in the OpenAPI document, open to anyone, and the answer matches what it documents', async () => {
    const doc = json(await t.request({ method: 'GET', url: '/openapi.json' }));
    const route = doc.paths['/v1/public/chatbots/{chatbot}']?.get;
    expect(route, Object.keys(doc.paths).join(', ')).toBeDefined();
    expect(route.security ?? []).toEqual([]);
    expect(Object.keys(route.responses)).toEqual(expect.arrayContaining(['200', '404']));
    const documented = route.responses['200'].content['application/json'].schema;
    // Should the generator have moved the schema to components, follow it.
    const schema = documented.$ref ? doc.components.schemas[String(documented.$ref).split('/').pop()!] : documented;
    expect(Object.keys(schema.properties).sort()).toEqual(PUBLIC_FIELDS);

    const { bot } = await publicBot();
    const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
    expect(ajv.validate(schema, json(await read(bot.slug))), ajv.errorsText()).toBe(true);
  });
});
