// A slug a chatbot gives up stays its account's (migrations/0031). Pages go on embedding
// `data-chatbot="<slug>"` and linking `/c/<slug>` after their chatbot is deleted or renamed: when
// another account could take the slug, those pages' visitors chatted with its chatbot, on the
// first company's site. Found in the fourth attacker round (docs/decisions.md, public visitors).
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const post = (user: RegisteredUser, payload: Record<string, unknown>) => t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(user.accessToken), payload });
const patch = (user: RegisteredUser, id: string, payload: Record<string, unknown>) =>
  t.request({ method: 'PATCH', url: `/v1/chatbots/${id}`, headers: bearer(user.accessToken), payload });
const remove = (user: RegisteredUser, id: string) => t.request({ method: 'DELETE', url: `/v1/chatbots/${id}`, headers: bearer(user.accessToken) });
const publicPage = (slug: string) => t.request({ method: 'GET', url: `/v1/public/chatbots/${slug}` });

function expectTaken(response: LightMyRequestResponse) {
  expect(response.statusCode, response.body).toBe(409);
  expect(response.json().code).toBe('slug_taken');
}

describe('a slug its chatbot gave up', () => {
  it('is held for its account after the chatbot is deleted: others are refused it, its account takes it back', async () => {
    const [owner, other] = await Promise.all([registerUser(t), registerUser(t)]);
    const bot = await createChatbot(t, owner, { name: 'Acme Help', slug: 'acme-help-held', is_public: true });
    expect((await remove(owner, bot.id)).statusCode).toBe(204);
    expect((await publicPage('acme-help-held')).statusCode).toBe(404);

    expectTaken(await post(other, { name: 'Phish', slug: 'acme-help-held', is_public: true }));
    const theirs = await createChatbot(t, other, { name: 'Phish' });
    expectTaken(await patch(other, theirs.id, { slug: 'acme-help-held' }));
    expect((await publicPage('acme-help-held')).statusCode).toBe(404);

    const back = await post(owner, { name: 'Acme Help again', slug: 'acme-help-held', is_public: true });
    expect(back.statusCode, back.body).toBe(201);
    const page = await publicPage('acme-help-held');
    expect(page.statusCode).toBe(200);
    expect(page.json().name).toBe('Acme Help again');
  });

  it('is held after a rename, and the account may give it to another of its chatbots', async () => {
    const [owner, other] = await Promise.all([registerUser(t), registerUser(t)]);
    const bot = await createChatbot(t, owner, { name: 'Shop', slug: 'shop-renamed-x1' });
    const renamed = await patch(owner, bot.id, { slug: 'shop-renamed-x2' });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expectTaken(await post(other, { name: 'Other', slug: 'shop-renamed-x1' }));
    const second = await createChatbot(t, owner, { name: 'Shop two' });
    const moved = await patch(owner, second.id, { slug: 'shop-renamed-x1' });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json().slug).toBe('shop-renamed-x1');
  });

  it('is passed over when another account makes a slug from the same name', async () => {
    const [owner, other] = await Promise.all([registerUser(t), registerUser(t)]);
    const bot = await createChatbot(t, owner, { name: 'Tulip Florist Desk' });
    expect(bot.slug).toBe('tulip-florist-desk');
    expect((await remove(owner, bot.id)).statusCode).toBe(204);
    const theirs = await post(other, { name: 'Tulip Florist Desk' });
    expect(theirs.statusCode, theirs.body).toBe(201);
    expect(theirs.json().slug).toBe('tulip-florist-desk-2');
    // Its own account, naming the chatbot the same, gets it again.
    const again = await post(owner, { name: 'Tulip Florist Desk' });
    expect(again.json().slug).toBe('tulip-florist-desk');
  });

  it('is never taken by another account asking for it while it is given up', async () => {
    const [owner, other] = await Promise.all([registerUser(t), registerUser(t)]);
    for (let round = 0; round < 12; round++) {
      const slug = `race-slug-${round}-x1`;
      const bot = await createChatbot(t, owner, { name: 'Racer', slug });
      const [removed, asked] = await Promise.all([remove(owner, bot.id), post(other, { name: 'Taker', slug })]);
      expect(removed.statusCode).toBe(204);
      expectTaken(asked);
    }
  });

  it('stays held when its account is removed from the database', async () => {
    const [owner, other] = await Promise.all([registerUser(t), registerUser(t)]);
    await createChatbot(t, owner, { name: 'Gone', slug: 'gone-account-x1' });
    await t.database.sql.query('DELETE FROM users WHERE id = $1', [owner.id]);
    expectTaken(await post(other, { name: 'Taker', slug: 'gone-account-x1' }));
  });
});
