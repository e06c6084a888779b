// A chatbot's allowed_origins took hosts no site can be at (`https://.`, `https://..example`,
// `https://-bad-.com`) and the same origin twice: the owner saw a list that named sites the public
// routes could never serve, or one site twice. Such entries are now refused with 422 problem+json
// naming the entry, and nothing is stored. Origins are still saved only in the form browsers send
// (lowercase host, no default port, no trailing slash; an international name in its xn-- form):
// another spelling is refused with the form to write, so the list shown is the list compared.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

const SHOP = 'https://shop.example.com';

let t: TestApp;
let owner: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
});

const patch = (id: string, allowed: string[]) =>
  t.request({ method: 'PATCH', url: `/v1/chatbots/${id}`, headers: bearer(owner.accessToken), payload: { allowed_origins: allowed } });
const post = (allowed: string[]) => t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(owner.accessToken), payload: { name: 'Shop', allowed_origins: allowed } });
const pageFrom = (slug: string, origin: string) => t.request({ method: 'GET', url: `/v1/public/chatbots/${slug}`, headers: { origin } });
const storedOrigins = async (id: string) => json(await t.request({ method: 'GET', url: `/v1/chatbots/${id}`, headers: bearer(owner.accessToken) })).allowed_origins;

/** A 422 problem+json whose one error names the entry at `index`, and its text in the message. */
function expectEntryRefused(response: LightMyRequestResponse, index: number, entry: string) {
  const what = `${JSON.stringify(entry)}: ${response.body}`;
  expect(response.statusCode, what).toBe(422);
  expect(response.headers['content-type'], what).toMatch(/^application\/problem\+json/);
  const body = json(response);
  expect(body.code, what).toBe('validation_failed');
  expect(body.errors, what).toHaveLength(1);
  expect(body.errors[0].path, what).toMatch(new RegExp(`allowed_origins\\.${index}$`));
  expect(body.errors[0].message, what).toContain(JSON.stringify(entry));
  return body.errors[0].message as string;
}

describe('allowed_origins entries', () => {
  it.each([
    ['a host of dots alone', 'https://.'],
    ['an empty label', 'https://..example'],
    ['an empty label inside', 'https://shop..example.com'],
    ['a label starting and ending with a hyphen', 'https://-bad-.com'],
    ['a label ending with a hyphen', 'https://shop-.example.com'],
    ['a label longer than 63 characters', `https://${'a'.repeat(64)}.example.com`],
    ["a name longer than 253 characters", `https://${`${"a".repeat(62)}.`.repeat(4)}example`],
  ])('refuses %s with 422 naming the entry, on PATCH and POST, storing nothing', async (_what, bad) => {
    const bot = await createChatbot(t, owner, { name: 'Shop', is_public: true, allowed_origins: [SHOP] });
    expectEntryRefused(await patch(bot.id, [SHOP, bad]), 1, bad);
    expect(await storedOrigins(bot.id)).toEqual([SHOP]);
    const before = await t.count('chatbots');
    expectEntryRefused(await post([bad]), 0, bad);
    expect(await t.count('chatbots')).toBe(before);
  });

  it('refuses an origin listed twice, naming the repeat and the entry it repeats', async () => {
    const bot = await createChatbot(t, owner, { name: 'Shop', is_public: true, allowed_origins: [SHOP] });
    const message = expectEntryRefused(await patch(bot.id, ['https://a.example', SHOP, 'https://a.example']), 2, 'https://a.example');
    expect(message).toMatch(/allowed_origins\.0/);
    expect(await storedOrigins(bot.id)).toEqual([SHOP]);
  });

  it.each([
    ['capitals', 'https://Shop.Example.com'],
    ['its default port', 'https://shop.example.com:443'],
    ['a trailing slash', 'https://shop.example.com/'],
  ])('an origin written with %s, beside its browser form, is refused with the form to write, not stored as a second entry', async (_what, written) => {
    const bot = await createChatbot(t, owner, { name: 'Shop', is_public: true, allowed_origins: [SHOP] });
    const message = expectEntryRefused(await patch(bot.id, [SHOP, written]), 1, written);
    expect(message).toContain(`write ${SHOP}`);
    expect(await storedOrigins(bot.id)).toEqual([SHOP]);
  });

  it('keeps the hosts browsers are at: names with underscores or a final dot, IPv4, IPv6, ports, xn-- names', async () => {
    const good = ['https://my_shop.example.com', 'https://shop.example.com.', 'http://127.0.0.1:8080', 'http://[::1]:3000', 'https://xn--bcher-kva.example', `https://${'a'.repeat(63)}.example.com`, 'http://localhost:5173'];
    const bot = await createChatbot(t, owner, { name: 'Shop', is_public: true });
    const saved = await patch(bot.id, good);
    expect(saved.statusCode, saved.body).toBe(200);
    expect(json(saved).allowed_origins).toEqual(good);
    for (const origin of good) {
      const page = await pageFrom(bot.slug, origin);
      expect(page.statusCode, `${origin}: ${page.body}`).toBe(200);
      expect(page.headers['access-control-allow-origin'], origin).toBe(origin);
    }
  });

  it('an international name is refused as written, with its xn-- form (what browsers send) to write, which the page then serves', async () => {
    const bot = await createChatbot(t, owner, { name: 'Bücher', is_public: true });
    const message = expectEntryRefused(await patch(bot.id, ['https://bücher.example']), 0, 'https://bücher.example');
    expect(message).toContain('write https://xn--bcher-kva.example');
    expect((await patch(bot.id, ['https://xn--bcher-kva.example'])).statusCode).toBe(200);
    const page = await pageFrom(bot.slug, 'https://xn--bcher-kva.example');
    expect(page.statusCode, page.body).toBe(200);
  });
});
