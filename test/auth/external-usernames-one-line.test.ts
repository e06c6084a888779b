// An external user's username comes from their issuer's token, where a user often picks it
// themself. It is shown as one line: the visitor's name in a chatbot owner's inbox when a host
// site's user starts a widget visit without naming themself, the owner's name on a public
// chatbot's page, the admin user list, the CLI's output. A name a visitor types is held to
// being one line; the one a token carried was not, so 'Acme billing\u202Etxt.exe' reached the
// owner's inbox reversed. A username claim that is not one line is refused (401 naming the
// claim, nothing stored); names in every script, with direction marks or emoji, are taken. A
// name of only invisible characters showed as none: it is passed over as a blank one is.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startVisitRaw } from '../helpers/public.js';

const HOST_SECRET = randomBytes(32).toString('hex');
let t: TestApp;
let owner: RegisteredUser;
let bot: { id: string; slug: string };

beforeAll(async () => {
  t = await createTestApp({ EXTERNAL_JWT_SECRET: HOST_SECRET, RATE_LIMIT_PUBLIC_IP: '10000/1m', RATE_LIMIT_PUBLIC_CHATBOT: '10000/1m' });
  owner = await registerUser(t);
  bot = await createChatbot(t, owner, { name: 'Front desk', is_public: true });
});
afterAll(async () => {
  await t?.close();
});

/** A token the host site signs for its signed-in user, named as their account there says. */
const hostToken = (claims: Record<string, unknown>) =>
  new SignJWT({ user_id: `user-${randomBytes(6).toString('hex')}`, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(HOST_SECRET));

const stored = async () => ({ users: await t.count('users'), visitors: await t.count('visitors'), conversations: await t.count('conversations') });

async function inboxName(label: string): Promise<string | null | undefined> {
  const response = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/conversations?limit=100`, headers: bearer(owner.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  const rows = json(response).data as Array<{ visitor: { visitor_id: string; name: string | null } }>;
  return rows.find((row) => row.visitor.visitor_id === label)?.visitor.name;
}

const NOT_ONE_LINE: Array<[string, string]> = [
  ['a right-to-left override', 'Acme billing\u202Etxt.exe'],
  ['a left-to-right override', '\u202DAcme'],
  ['a line break', 'Ada\nLovelace'],
  ['a tab', 'Ada\tLovelace'],
  ['a line separator', 'Ada\u2028Lovelace'],
  ['a C1 control (CSI)', 'Ada\u009b2K'],
  ['a terminal escape', 'Ada\u001b[2J'],
];

describe("an external user whose token's username is not one line", () => {
  it.each(NOT_ONE_LINE)('with %s starts no widget visit: 401 naming the claim, nothing stored', async (_what, name) => {
    const before = await stored();
    const token = await hostToken({ username: name });
    const response = await startVisitRaw(t, bot.slug, { visitor_id: 'widget-1' }, bearer(token));
    expect(response.statusCode, response.body).toBe(401);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(response).code).toBe('invalid_token');
    expect(json(response).detail).toMatch(/username claim must be one line/);
    expect(await stored()).toEqual(before);
  });

  it('is refused by the API too, also when the name comes from preferred_username', async () => {
    const before = await stored();
    const token = await hostToken({ preferred_username: 'Acme billing\u202Etxt.exe' });
    const response = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
    expect(response.statusCode, response.body).toBe(401);
    expect(json(response).detail).toMatch(/preferred_username claim must be one line/);
    expect(await stored()).toEqual(before);
  });
});

describe('an email claim that is not one line', () => {
  it('is dropped, as an over-long one is: the user signs in by their username, with no email', async () => {
    const token = await hostToken({ username: 'Ada', email: 'ada\u202Emoc.elpmaxe@evil.test' });
    const me = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
    expect(me.statusCode, me.body).toBe(200);
    expect(json(me)).toMatchObject({ username: 'Ada', email: null });
  });
});

describe('a username claim of only invisible characters', () => {
  it('is passed over as a blank one is: the next name claim names the user', async () => {
    const token = await hostToken({ username: '\u200b\u3164\u200d', preferred_username: 'Grace' });
    const label = `widget-${randomBytes(4).toString('hex')}`;
    const response = await startVisitRaw(t, bot.slug, { visitor_id: label }, bearer(token));
    expect(response.statusCode, response.body).toBe(201);
    expect(await inboxName(label)).toBe('Grace');
  });

  it('names nobody: with no other name claim the token is refused as one without a username, nothing stored', async () => {
    const before = await stored();
    const token = await hostToken({ username: '\ufeff\u2060 ' });
    const response = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
    expect(response.statusCode, response.body).toBe(401);
    expect(json(response).detail).toMatch(/carries no username/);
    expect(await stored()).toEqual(before);
  });
});

describe('an external username that is one line', () => {
  it.each([['客服 王小明'], ['\u202bדנה כהן\u202c'], ['\u200fسارة'], ['👩\u200d💻 Ada'], ['Zoë “Z” O’Neil']])('is taken and names the visitor in the inbox: %j', async (name) => {
    const token = await hostToken({ username: name });
    const label = `widget-${randomBytes(4).toString('hex')}`;
    const response = await startVisitRaw(t, bot.slug, { visitor_id: label }, bearer(token));
    expect(response.statusCode, response.body).toBe(201);
    expect(await inboxName(label)).toBe(name);
    const me = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
    expect(json(me).username).toBe(name);
  });
});
