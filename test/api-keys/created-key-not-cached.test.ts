// The answer to POST /v1/chatbots/{id}/keys is the one place a key's secret is ever shown. It went
// out without Cache-Control, so a browser's cache or a caching proxy in front of the dashboard
// could keep it on disk, where the key outlives its revocation notice and anyone reading that
// cache has it. Parley's token answers say `no-store` (RFC 6749 §5.1); a key is a longer-lived
// credential than either token. The list, which shows prefixes only, may be cached as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let owner: RegisteredUser;
let bot: { id: string };
beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
  bot = await createChatbot(t, owner, { name: 'Cached desk' });
});
afterAll(async () => {
  await t?.close();
});

describe('the answer that shows a new key', () => {
  it('tells browsers and proxies not to store it', async () => {
    const created = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/keys`, headers: bearer(owner.accessToken), payload: { name: 'backend' } });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().key).toMatch(/^parley_sk_/);
    expect(created.headers['cache-control']).toBe('no-store');
  });
});
