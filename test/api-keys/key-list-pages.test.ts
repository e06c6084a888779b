// A chatbot's keys are a list like every other (§2): `?limit=` 1–100 (default 20) and an opaque
// `?cursor=`, answered `{data, next_cursor}`. Answered whole, a chatbot with 200,000 keys (which
// nothing stops an account from creating) was a 40 MB answer that held every tenant's requests
// for seconds and half a gigabyte of the server's memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let owner: RegisteredUser;
let bot: { id: string };
const created: string[] = [];

beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
  bot = await createChatbot(t, owner, { name: 'Many integrations' });
  for (let i = 0; i < 25; i++) created.push((await createApiKey(t, owner, bot.id, `server ${i}`)).id);
});
afterAll(async () => {
  await t?.close();
});

const list = (query = '') => t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/keys${query}`, headers: bearer(owner.accessToken) });

describe("a chatbot's keys, a page at a time", () => {
  it('gives 20 by default, oldest first, and the cursor leads to the rest, each key once', async () => {
    const first = await list();
    expect(first.statusCode, first.body).toBe(200);
    const page = first.json();
    expect(page.data.map((k: { id: string }) => k.id)).toEqual(created.slice(0, 20));
    expect(typeof page.next_cursor).toBe('string');
    const second = await list(`?cursor=${encodeURIComponent(page.next_cursor)}`);
    expect(second.statusCode, second.body).toBe(200);
    expect(second.json().data.map((k: { id: string }) => k.id)).toEqual(created.slice(20));
    expect(second.json().next_cursor).toBeNull();
  });

  it('takes a page size from 1 to 100', async () => {
    expect((await list('?limit=100')).json().data).toHaveLength(25);
    expect((await list('?limit=3')).json().data.map((k: { id: string }) => k.id)).toEqual(created.slice(0, 3));
    for (const query of ['?limit=0', '?limit=101', '?limit=x', '?cursor=made-up', '?cursor=']) {
      const refused = await list(query);
      expect(refused.statusCode, `${query}: ${refused.body}`).toBe(422);
      expect(refused.json().code).toBe('validation_failed');
    }
  });
});
