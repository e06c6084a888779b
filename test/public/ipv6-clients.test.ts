// Per-address limits and IPv6. An IPv6 client is routinely given a whole /64 (every home line,
// every cloud VM) and may send each request from a new address of it. Counted per address, it was
// never held: it created visitors and conversations at the chatbot's limit alone, and spent the
// chatbot's whole budget (RATE_LIMIT_PUBLIC_CHATBOT) by itself, locking every real visitor out.
// A /64 is now one client; an IPv4 client seen as ::ffff:a.b.c.d is the same as a.b.c.d.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, fakeLlmEnv } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

let t: TestApp;
let llm: FakeLlm;
let owner: RegisteredUser;

beforeAll(async () => {
  llm = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(llm.url, { RATE_LIMIT_PUBLIC_IP: '5/1m', RATE_LIMIT_PUBLIC_VISITOR: '100000/1m', RATE_LIMIT_PUBLIC_CHATBOT: '20/1m', RATE_LIMIT_LOGIN_IP: '3/1m' }));
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
  await llm?.close();
});

/** The n-th address of one /64 (documentation prefix 2001:db8::/32). */
const inPrefix = (prefix: string, n: number) => `${prefix}::${(n + 1).toString(16)}`;

describe('one IPv6 client with its /64 (RATE_LIMIT_PUBLIC_IP=5/1m, RATE_LIMIT_PUBLIC_CHATBOT=20/1m)', () => {
  it('is held to the per-address limit when it starts new visitors, each from another address of its /64', async () => {
    const bot = await createChatbot(t, owner, { name: 'Six shop', is_public: true });
    const before = await t.count('visitors');
    let created = 0;
    for (let n = 0; n < 15; n++) {
      const response = await t.request({
        method: 'POST',
        url: `/v1/public/chatbots/${bot.slug}/conversations`,
        payload: { visitor_id: `bot-${n}` },
        remoteAddress: inPrefix('2001:db8:a:1', n),
      });
      if (response.statusCode === 201) created++;
    }
    const rows = (await t.count('visitors')) - before;
    // One client, one /64: no more than RATE_LIMIT_PUBLIC_IP in the window.
    expect({ created, rows }).toEqual({ created: 5, rows: 5 });
  });

  it("cannot spend a chatbot's whole budget alone and lock out a visitor from another network", async () => {
    const bot = await createChatbot(t, owner, { name: 'Six desk', is_public: true });
    // The attacker: 40 page loads, each from another address of one /64.
    for (let n = 0; n < 40; n++) {
      await t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}`, remoteAddress: inPrefix('2001:db8:b:2', n) });
    }
    // A real visitor, on another network, asking for the first time.
    const visitor = await t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}`, remoteAddress: '198.51.100.7' });
    expect(visitor.statusCode, visitor.body).toBe(200);
  });

  it('counts sign-in attempts from one /64 together, and an IPv4 address the same whichever way it arrives', async () => {
    const attempt = (remoteAddress: string) =>
      t.request({ method: 'POST', url: '/v1/auth/login', payload: { username: owner.username, password: 'not the password at all' }, remoteAddress });
    const fromPrefix: number[] = [];
    for (let n = 0; n < 5; n++) fromPrefix.push((await attempt(inPrefix('2001:db8:c:3', n))).statusCode);
    expect(fromPrefix).toEqual([401, 401, 401, 429, 429]);
    const mixed = [(await attempt('192.0.2.44')).statusCode, (await attempt('::ffff:192.0.2.44')).statusCode, (await attempt('192.0.2.44')).statusCode, (await attempt('::ffff:192.0.2.44')).statusCode];
    expect(mixed).toEqual([401, 401, 401, 429]);
    // Another /64 of the same provider is another client.
    expect((await attempt(inPrefix('2001:db8:c:4', 0))).statusCode).toBe(401);
  });
});
