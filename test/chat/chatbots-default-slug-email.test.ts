// A user of another system whose token carries no username is named by their email (§3.2), and
// no public page shows an email: a public chatbot of theirs names no owner, their profile is not
// found by it. Their default chatbot (made on first need, §5) took its slug from that name:
// `jane-example-org-assistant`. Made public, as a personal chatbot is meant to be, its page and
// its /c/{slug} address carried the address; private, the slug is still held server-wide, so any
// account asking for it was told 409 slug_taken, and learned that the address has an account
// here. The default chatbot's slug is now made from the address's local part only, as an email
// sign-up's username is (`jane-assistant`).
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

const EXTERNAL_SECRET = randomBytes(32).toString('hex');

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ EXTERNAL_JWT_SECRET: EXTERNAL_SECRET });
});
afterAll(async () => {
  await t?.close();
});

const externalToken = (claims: Record<string, string>) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(`ext-${randomBytes(5).toString('hex')}`)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(EXTERNAL_SECRET));

/** The default chatbot of an external user named by `claims`, made as a client that names no chatbot makes it. */
async function defaultChatbotOf(claims: Record<string, string>) {
  const token = await externalToken(claims);
  const started = await t.request({ method: 'POST', url: '/v1/conversations', headers: bearer(token) });
  expect(started.statusCode, started.body).toBe(201);
  const bot = await t.request({ method: 'GET', url: `/v1/chatbots/${json(started).chatbot_id}`, headers: bearer(token) });
  expect(json(bot).is_default).toBe(true);
  return { token, bot: json(bot) };
}

describe('the default chatbot of a user named by their email', () => {
  it('takes no part of the address but its local part into its slug', async () => {
    const local = `jane${randomBytes(3).toString('hex')}`;
    const { bot } = await defaultChatbotOf({ email: `${local}@example.org` });
    expect(bot.slug).toBe(`${local}-assistant`);
    expect(bot.slug).not.toContain('example');
  });

  it('leaves no slug that tells another account whether an address has an account here', async () => {
    const local = `kim${randomBytes(3).toString('hex')}`;
    await defaultChatbotOf({ preferred_username: `${local}@corp.example.net` });
    const prober = await registerUser(t);
    const probe = await createChatbot(t, prober, { name: 'Probe' });
    const asked = await t.request({ method: 'PATCH', url: `/v1/chatbots/${probe.id}`, headers: bearer(prober.accessToken), payload: { slug: `${local}-corp-example-net-assistant` } });
    expect(asked.statusCode, asked.body).toBe(200);
  });

  it('still takes a real username whole', async () => {
    const name = `lee_${randomBytes(3).toString('hex')}`;
    const { bot } = await defaultChatbotOf({ username: name, email: `${name}@example.org` });
    expect(bot.slug).toBe(`${name.replace('_', '-')}-assistant`);
  });
});
