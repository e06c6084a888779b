// An issuer withdraws a key from its key set (a leaked signing key, or the end of a rotation).
// Tokens signed with it must stop being accepted once the issuer says so, within minutes, not
// whenever Parley next happens to fetch the set; while the key server is down, the keys in hand
// keep working.
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeJwks } from '../fake-jwks/fake-jwks.js';
import { createTestApp, json } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startVisitRaw } from '../helpers/public.js';

const ISSUER = 'https://withdrawn.example.com/';
type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let leaked: KeyPair;
let next: KeyPair;
let leakedJwk: JWK;
let nextJwk: JWK;

beforeAll(async () => {
  leaked = await generateKeyPair('RS256', { extractable: true });
  next = await generateKeyPair('RS256', { extractable: true });
  leakedJwk = { ...(await exportJWK(leaked.publicKey)), kid: 'leaked', alg: 'RS256', use: 'sig' };
  nextJwk = { ...(await exportJWK(next.publicKey)), kid: 'next', alg: 'RS256', use: 'sig' };
});
afterEach(() => {
  vi.useRealTimers();
});

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: JWTPayload = {}) => ({ sub: `kc|${randomBytes(5).toString('hex')}`, preferred_username: 'rotated', iss: ISSUER, aud: 'parley', exp: now() + 600, ...extra });
const signWith = (pair: KeyPair, kid: string, extra: JWTPayload = {}) => new SignJWT(claims(extra)).setProtectedHeader({ alg: 'RS256', kid }).sign(pair.privateKey);

async function issuerApp() {
  const server = await startFakeJwks([leakedJwk, nextJwk]);
  const t = await createTestApp({ EXTERNAL_JWKS_URL: server.url, EXTERNAL_JWT_ISSUER: ISSUER, EXTERNAL_JWT_AUDIENCE: 'parley', AUTH_CACHE_MS: '0', RATE_LIMIT_PUBLIC_IP: '10000/1m' });
  return { server, t, close: async () => (await t.close(), await server.close()) };
}

describe('a key the issuer withdrew from its key set', () => {
  it('stops verifying tokens within the hour, while the keys it still publishes go on working', async () => {
    const { server, t, close } = await issuerApp();
    try {
      const me = async (token: string) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
      expect((await me(await signWith(leaked, 'leaked'))).statusCode).toBe(200);
      // The issuer takes the leaked key out of its set; whoever holds it keeps signing tokens.
      server.setKeys([nextJwk]);
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 3_600_000);
      const forged = await me(await signWith(leaked, 'leaked', { preferred_username: 'holder_of_leaked_key' }));
      expect(forged.statusCode, forged.body).toBe(401);
      expect(json(forged).code).toBe('invalid_token');
      const good = await me(await signWith(next, 'next'));
      expect(good.statusCode, good.body).toBe(200);
    } finally {
      await close();
    }
  });

  it('stops opening widget visits for a host site\'s users too, and the refusal stores nothing', async () => {
    const { server, t, close } = await issuerApp();
    try {
      const owner = await registerUser(t);
      const chatbot = await createChatbot(t, owner, { is_public: true });
      const first = await startVisitRaw(t, chatbot.slug, { visitor_id: 'w' }, bearer(await signWith(leaked, 'leaked')));
      expect(first.statusCode, first.body).toBe(201);
      server.setKeys([nextJwk]);
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 3_600_000);
      const before = { visitors: await t.count('visitors'), conversations: await t.count('conversations'), users: await t.count('users') };
      const forged = await startVisitRaw(t, chatbot.slug, { visitor_id: 'w' }, bearer(await signWith(leaked, 'leaked', { sub: 'kc|someone-else' })));
      expect(forged.statusCode, forged.body).toBe(401);
      expect({ visitors: await t.count('visitors'), conversations: await t.count('conversations'), users: await t.count('users') }).toEqual(before);
    } finally {
      await close();
    }
  });

  it('is kept, like every key in hand, while the key server cannot be reached to say otherwise', async () => {
    const { server, t, close } = await issuerApp();
    try {
      const me = async (token: string) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
      expect((await me(await signWith(leaked, 'leaked'))).statusCode).toBe(200);
      server.setDown(true, 503);
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 3_600_000);
      const before = server.fetches();
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await me(await signWith(next, 'next'))).statusCode);
      expect(statuses).toEqual(Array(10).fill(200));
      expect(server.fetches() - before).toBeLessThanOrEqual(1);
    } finally {
      await close();
    }
  });
});
