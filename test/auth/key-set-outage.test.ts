// An issuer's key server that fails. Made-up key ids must not each send it a request (the
// refetch cooldown counts failed fetches too), and a cached set past its age is kept while its
// refresh fails, so users whose key is in hand are not refused.
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeJwks, type FakeJwks } from '../fake-jwks/fake-jwks.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer } from '../helpers/factories.js';

const ISSUER = 'https://id.example.com/';
let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
let publicJwk: JWK;
let server: FakeJwks;
let t: TestApp;

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  publicJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
  server = await startFakeJwks([publicJwk]);
  t = await createTestApp({ EXTERNAL_JWKS_URL: server.url, EXTERNAL_JWT_ISSUER: ISSUER, EXTERNAL_JWT_AUDIENCE: 'parley', AUTH_CACHE_MS: '0' });
});
afterAll(async () => {
  vi.useRealTimers();
  await t?.close();
  await server?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: JWTPayload = {}) => ({ sub: `auth0|${randomBytes(5).toString('hex')}`, preferred_username: 'storm', iss: ISSUER, aud: 'parley', exp: now() + 600, ...extra });
const sign = (kid: string) => new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid }).sign(rsa.privateKey);
const me = (token: string) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });

describe('an issuer\'s key server that fails', () => {
  it('cost the failing issuer at most one key-set request per cooldown, not one per forged token', async () => {
    expect((await me(await sign('rsa-1'))).statusCode).toBe(200);
    expect(server.fetches()).toBe(1);

    server.setDown(true, 503);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 31_000);

    const before = server.fetches();
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await me(await sign(`made-up-${i}-${randomBytes(4).toString('hex')}`))).statusCode);
    const sent = server.fetches() - before;

    // Real users with the cached key keep working throughout.
    const legit = await me(await sign('rsa-1'));
    expect(legit.statusCode, legit.body).toBe(200);
    expect(json(legit).username).toBe('storm');
    expect(statuses.every((status) => status === 401 || status === 503)).toBe(true);
    // 30 forged tokens within a second: one refetch is the promise; each one costing a request is a storm.
    expect(sent, `key-set requests sent to the failing issuer for 30 forged tokens`).toBeLessThanOrEqual(2);
  });

  it('after a day, a key server outage neither refuses users whose key is cached nor gets one request per sign-in', async () => {
    vi.useRealTimers();
    const own = await startFakeJwks([publicJwk]);
    const app = await createTestApp({ EXTERNAL_JWKS_URL: own.url, EXTERNAL_JWT_ISSUER: ISSUER, EXTERNAL_JWT_AUDIENCE: 'parley', AUTH_CACHE_MS: '0' }, { sharedWith: t });
    try {
      const ask = async (kid: string) => (await app.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(await sign(kid)) })).statusCode;
      expect(await ask('rsa-1')).toBe(200);
      // The cached set reaches its age limit (24 h) just as the issuer's key server is down.
      own.setDown(true, 503);
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 24 * 3_600_000 + 60_000);
      const before = own.fetches();
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) statuses.push(await ask('rsa-1'));
      // "Keys stay usable while the issuer's server is down" (external-identity.ts): the key in hand still verifies.
      expect(statuses.filter((status) => status !== 200).length, `users refused: ${statuses.join(',')}`).toBe(0);
      expect(own.fetches() - before, 'key-set requests for 20 sign-ins').toBeLessThanOrEqual(2);
      // The operator is told the keys in use could not be refreshed.
      expect(app.logs.some((line) => line.includes('could not be refreshed') && line.includes('external-jwks'))).toBe(true);
    } finally {
      vi.useRealTimers();
      await app.close();
      await own.close();
    }
  });
});
