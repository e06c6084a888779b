// An owner opens their chatbot's page (or has the widget on their site) before the chatbot has
// that slug, then creates it or renames one to it. The miss was kept for AUTH_CACHE_MS, so the
// page stayed "not found" for a while after the chatbot existed; it must be found at once.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ AUTH_CACHE_MS: '60000' });
});
afterAll(async () => {
  await t.close();
});

const publicPage = (slug: string) => t.request({ method: 'GET', url: `/v1/public/chatbots/${slug}` });

it('finds a chatbot created with a slug that was just looked up in vain', async () => {
  const owner = await registerUser(t);
  expect((await publicPage('looked-up-first-x1')).statusCode).toBe(404);
  await createChatbot(t, owner, { name: 'Fresh', slug: 'looked-up-first-x1', is_public: true });
  const page = await publicPage('looked-up-first-x1');
  expect(page.statusCode, page.body).toBe(200);
  expect(page.json().name).toBe('Fresh');
});

it('finds a chatbot renamed to a slug that was just looked up in vain', async () => {
  const owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Renamed', slug: 'looked-up-before-x1', is_public: true });
  expect((await publicPage('looked-up-after-x1')).statusCode).toBe(404);
  const renamed = await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { slug: 'looked-up-after-x1' } });
  expect(renamed.statusCode, renamed.body).toBe(200);
  expect((await publicPage('looked-up-after-x1')).statusCode).toBe(200);
  expect((await publicPage('looked-up-before-x1')).statusCode).toBe(404);
});
