// A forged or mistyped key is refused before any database read (§3.3, §12): its checksum fails.
// Shown by cutting the database away: a forged key still answers 401, while a real key, which
// must be looked up, answers 503. A TCP proxy between Parley and PostgreSQL refuses every
// connection; PGlite runs inside the process and cannot be cut this way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../src/features/api-keys/key-format.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { proxiedDatabase, type ProxiedDatabase } from '../helpers/proxied-database.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';

const url = process.env.TEST_DATABASE_URL;

describe.runIf(url)('keys while PostgreSQL cannot be reached', () => {
  let link: ProxiedDatabase;
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    link = await proxiedDatabase(url!, 'keys', { poolMax: 2 });
    proxy = link.proxy;
    t = await createTestApp({}, { database: link.database });
  });
  afterAll(async () => {
    proxy?.refuse(false);
    await t?.app.close();
    await link?.close();
  });

  it('a forged key is 401 without the database; a real one needs it (503)', { timeout: 30_000 }, async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner);
    const real = await createApiKey(t, owner, bot.id);
    const forged = `${real.key.slice(0, -6)}${real.key.slice(-6) === '000000' ? '000001' : '000000'}`;
    const unknown = generateKey();

    proxy.refuse(true);
    proxy.resetAll();
    try {
      const refused = await t.request({ method: 'GET', url: '/v1/conversations?user=ana', headers: bearer(forged) });
      expect(refused.statusCode, refused.body).toBe(401);
      expect(refused.json().code).toBe('invalid_token');
      // A well-formed key has to be looked up: with the database away that is a 503, never a 401.
      for (const key of [real.key, unknown]) {
        const looked = await t.request({ method: 'GET', url: '/v1/conversations?user=ana', headers: bearer(key) });
        expect(looked.statusCode, looked.body).toBe(503);
      }
    } finally {
      proxy.refuse(false);
    }
  });
});
