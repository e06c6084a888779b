// An issuer whose key server fails before Parley ever got its key set (an instance started
// during the issuer's outage, or a key server that answers HTML or errors). There is no set to
// fall back on, so requests answer 503; but a flood of tokens naming that issuer must not each
// send the failing key server a request: Parley would be the one hammering it.
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeJwks } from '../fake-jwks/fake-jwks.js';
import { createTestApp, json } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startVisitRaw } from '../helpers/public.js';

const ISSUER = 'https://first-fetch.example.com/';
let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
let publicJwk: JWK;

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  publicJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
});
afterEach(() => {
  vi.useRealTimers();
});

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: JWTPayload = {}) => ({ sub: `kc|${randomBytes(5).toString('hex')}`, preferred_username: 'early_bird', iss: ISSUER, aud: 'parley', exp: now() + 600, ...extra });
const sign = (kid = 'k1', extra: JWTPayload = {}) => new SignJWT(claims(extra)).setProtectedHeader({ alg: 'RS256', kid }).sign(rsa.privateKey);

async function issuerApp() {
  const server = await startFakeJwks([publicJwk]);
  const t = await createTestApp({
    EXTERNAL_JWKS_URL: server.url,
    EXTERNAL_JWT_ISSUER: ISSUER,
    EXTERNAL_JWT_AUDIENCE: 'parley',
    AUTH_CACHE_MS: '0',
    RATE_LIMIT_PUBLIC_IP: '10000/1m',
    RATE_LIMIT_PUBLIC_CHATBOT: '10000/1m',
  });
  return { server, t, close: async () => (await t.close(), await server.close()) };
}

describe('a key server that fails before its key set was ever fetched', () => {
  it('is asked once, not once per token, while it fails; the requests answer 503 and the token passes once it is back', async () => {
    const { server, t, close } = await issuerApp();
    try {
      server.setDown(true, 500);
      // The time stands still: every request below comes "at once", as a flood does.
      vi.useFakeTimers({ toFake: ['Date'] });
      const statuses: number[] = [];
      for (let i = 0; i < 25; i++) {
        const answer = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(await sign(`made-up-${i}`)) });
        statuses.push(answer.statusCode);
        expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
      expect(new Set(statuses)).toEqual(new Set([503]));
      expect(server.fetches(), 'key-set requests sent to the failing key server for 25 tokens').toBeLessThanOrEqual(1);

      // A moment later the key server is back: a good token passes.
      server.setDown(false);
      vi.setSystemTime(Date.now() + 6_000);
      const later = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(await sign()) });
      expect(later.statusCode, later.body).toBe(200);
      expect(json(later)).toMatchObject({ username: 'early_bird', issuer: 'external-jwks' });
    } finally {
      await close();
    }
  });

  it('holds the same way for a host site\'s users starting widget visits, and stores nothing for them', async () => {
    const { server, t, close } = await issuerApp();
    try {
      const owner = await registerUser(t);
      const chatbot = await createChatbot(t, owner, { is_public: true });
      const before = { visitors: await t.count('visitors'), conversations: await t.count('conversations'), users: await t.count('users') };
      server.setDown(true, 503);
      vi.useFakeTimers({ toFake: ['Date'] });
      for (let i = 0; i < 25; i++) {
        const answer = await startVisitRaw(t, chatbot.slug, { visitor_id: `widget-${i}` }, bearer(await sign(`made-up-${i}`)));
        expect(answer.statusCode, answer.body).toBe(503);
        expect(json(answer).code).toBe('issuer_unavailable');
      }
      expect(server.fetches()).toBeLessThanOrEqual(1);
      expect({ visitors: await t.count('visitors'), conversations: await t.count('conversations'), users: await t.count('users') }).toEqual(before);
    } finally {
      await close();
    }
  });
});
