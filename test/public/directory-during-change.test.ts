// A change to a chatbot made on this instance is seen by the next visitor at once (§7), even when
// a visitor's lookup of that chatbot was already on its way back from the database as the owner
// made the change: what that lookup read is older than the change and must not be kept for
// AUTH_CACHE_MS. A TCP proxy between Parley and PostgreSQL holds back the answer to the lookup
// alone while the owner's change goes through on another connection; PGlite runs one statement
// at a time, so there the lookup always ends before the change begins.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { proxiedDatabase, type ProxiedDatabase } from '../helpers/proxied-database.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';

const url = process.env.TEST_DATABASE_URL;

describe.runIf(url)("a visitor's lookup in flight while the owner changes the chatbot", () => {
  let link: ProxiedDatabase;
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    link = await proxiedDatabase(url!, 'directory');
    proxy = link.proxy;
    // Far longer than the test: a stale answer kept would show on every later request.
    t = await createTestApp({ AUTH_CACHE_MS: '60000', RATE_LIMIT_PUBLIC_IP: '10000/1m' }, { database: link.database });
  });
  afterAll(async () => {
    await t?.app.close();
    await link?.close();
  });

  const page = (slug: string) => t.request({ method: 'GET', url: `/v1/public/chatbots/${slug}` });
  const setPublic = (owner: RegisteredUser, id: string, isPublic: boolean) =>
    t.request({ method: 'PATCH', url: `/v1/chatbots/${id}`, headers: bearer(owner.accessToken), payload: { is_public: isPublic } });

  /** A visitor asks for the chatbot's page; the owner's change lands while the lookup's answer is on its way. */
  async function pageDuringChange(owner: RegisteredUser, bot: { id: string; slug: string }, isPublic: boolean) {
    // The lookup is the one statement of the two requests that sends the slug: its answer is held
    // once the statement has run (the owner's change names the chatbot by id).
    const hold = proxy.holdAnswersAfter(bot.slug);
    let during: Awaited<ReturnType<typeof page>>;
    try {
      const visiting = page(bot.slug);
      await hold.answered;
      const changed = await setPublic(owner, bot.id, isPublic);
      expect(changed.statusCode).toBe(200);
      hold.release();
      during = await visiting;
    } finally {
      hold.release();
    }
    return during;
  }

  it('a chatbot made public answers its page at once, not 404 for AUTH_CACHE_MS', { timeout: 30_000 }, async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Opening soon', slug: `opening-${randomBytes(4).toString('hex')}`, is_public: false });

    const during = await pageDuringChange(owner, bot, true);
    // Read before the change: either answer is fair for the request that was in flight.
    expect([200, 404]).toContain(during.statusCode);

    const after = await page(bot.slug);
    expect(after.statusCode).toBe(200);
    expect(after.json()).toMatchObject({ name: 'Opening soon' });
  });

  it('a chatbot made private stops showing its page at once, not after AUTH_CACHE_MS', { timeout: 30_000 }, async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Closing down', slug: `closing-${randomBytes(4).toString('hex')}`, is_public: true });

    const during = await pageDuringChange(owner, bot, false);
    expect([200, 404]).toContain(during.statusCode);

    const after = await page(bot.slug);
    expect(after.statusCode).toBe(404);
    expect(after.body).not.toContain('Closing down');
  });
});
