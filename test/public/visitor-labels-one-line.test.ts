// A visitor's name and label are what the owner reads of them in the inbox, one line each. A
// visitor could start a visit named 'Acme billing\u202Etxt.exe' (shown reversed, 'Acme
// billingexe.txt'), split the inbox row with a line separator, or hand an owner's terminal a C1
// escape (CSI): only C0 controls were refused. Now a name or label that is not one line (the rule
// a chatbot's name and a document's title follow) is refused with 422 naming the field, for a new
// visitor, a returning one and a host site's signed-in user, and nothing is stored; names in
// every script, with bidirectional marks or emoji, are taken.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, startVisitRaw } from '../helpers/public.js';

const EXTERNAL_JWT_SECRET = randomBytes(32).toString('hex');
let t: TestApp;
let owner: RegisteredUser;
let bot: { id: string; slug: string };

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_PUBLIC_IP: '10000/1m', RATE_LIMIT_PUBLIC_VISITOR: '10000/1m', RATE_LIMIT_PUBLIC_CHATBOT: '10000/1m', EXTERNAL_JWT_SECRET });
  owner = await registerUser(t);
  bot = await createChatbot(t, owner, { name: 'Front desk', is_public: true });
});
afterAll(async () => {
  await t?.close();
});

const stored = async () => ({ visitors: await t.count('visitors'), conversations: await t.count('conversations') });

/** The inbox rows the owner reads: each conversation's visitor. */
async function inbox(): Promise<Array<{ visitor: { visitor_id: string; name: string | null } }>> {
  const response = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/conversations?limit=100`, headers: bearer(owner.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response).data;
}

const NOT_ONE_LINE: Array<[string, string]> = [
  ['a right-to-left override', 'Acme billing\u202Etxt.exe'],
  ['a left-to-right override', '\u202DAcme'],
  ['a line separator', 'Ada\u2028Lovelace'],
  ['a paragraph separator', 'Ada\u2029Lovelace'],
  ['a C1 control (CSI)', 'Ada\u009b2K'],
  ['a next-line control (NEL)', 'Ada\u0085Lovelace'],
];

/** A token the host site signs for its signed-in user. */
const hostToken = (userId: string) =>
  new SignJWT({ user_id: userId, username: userId }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('10m').sign(new TextEncoder().encode(EXTERNAL_JWT_SECRET));

describe('a new visitor', () => {
  it.each(NOT_ONE_LINE)('whose name has %s is refused with 422 on visitor_name, nothing stored', async (_what, name) => {
    const before = await stored();
    const response = await startVisitRaw(t, bot.slug, { visitor_id: 'browser-1', visitor_name: name });
    expect(response.statusCode, response.body).toBe(422);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(response).errors[0].path).toBe('body.visitor_name');
    expect(await stored()).toEqual(before);
  });

  it.each(NOT_ONE_LINE)('whose label (visitor_id) has %s is refused with 422 on visitor_id, nothing stored', async (_what, label) => {
    const before = await stored();
    const response = await startVisitRaw(t, bot.slug, { visitor_id: label });
    expect(response.statusCode, response.body).toBe(422);
    expect(json(response).errors[0].path).toBe('body.visitor_id');
    expect(await stored()).toEqual(before);
  });
});

describe('a returning visitor and a signed-in user', () => {
  it('cannot rename themselves to a name that is not one line; their name stays', async () => {
    const visit = await startVisit(t, bot.slug, { visitorId: 'returning', name: 'Grace' });
    const before = await stored();
    const response = await startVisitRaw(t, bot.slug, { visitor_id: 'returning', visitor_name: 'Grace\u202Eevil' }, bearer(visit.visitor_token));
    expect(response.statusCode, response.body).toBe(422);
    expect(json(response).errors[0].path).toBe('body.visitor_name');
    expect(await stored()).toEqual(before);
    const row = (await inbox()).find((entry) => entry.visitor.visitor_id === 'returning');
    expect(row?.visitor.name).toBe('Grace');
  });

  it("a host site's signed-in user is held to the same rule", async () => {
    const before = await stored();
    const token = await hostToken(`user-${randomBytes(4).toString('hex')}`);
    const response = await startVisitRaw(t, bot.slug, { visitor_id: 'site\u2028user', visitor_name: 'Linus' }, bearer(token));
    expect(response.statusCode, response.body).toBe(422);
    expect(json(response).errors[0].path).toBe('body.visitor_id');
    expect(await stored()).toEqual(before);
  });
});

describe('names that are one line', () => {
  it.each([['客服 王小明'], ['\u202bדנה כהן\u202c'], ['\u200fسارة'], ['👩\u200d💻 Ada'], ['Zoë “Z” O’Neil']])('are taken and shown as given: %j', async (name) => {
    const label = `one-line-${randomBytes(4).toString('hex')}`;
    await startVisit(t, bot.slug, { visitorId: `${label} ${name}`, name });
    const row = (await inbox()).find((entry) => entry.visitor.visitor_id === `${label} ${name}`);
    expect(row?.visitor.name).toBe(name);
  });
});
