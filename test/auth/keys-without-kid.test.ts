// Some issuers publish keys without a `kid` and sign tokens without one. With one key that is
// plain; during a rotation the set holds the old key and the new one, both able to verify a
// token of that algorithm. Sign-ins must go on working through the rotation, for tokens of
// either key, while a token no published key signed is still refused as a bad token.
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeJwks, type FakeJwks } from '../fake-jwks/fake-jwks.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startVisitRaw } from '../helpers/public.js';

const ISSUER = 'https://no-kid.example.com/';
type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let old: KeyPair;
let next: KeyPair;
let stranger: KeyPair;
let server: FakeJwks;
let t: TestApp;

const publicJwk = async (pair: KeyPair): Promise<JWK> => ({ ...(await exportJWK(pair.publicKey)), alg: 'RS256', use: 'sig' });

beforeAll(async () => {
  const rsa = () => generateKeyPair('RS256', { extractable: true });
  [old, next, stranger] = await Promise.all([rsa(), rsa(), rsa()]);
  server = await startFakeJwks([await publicJwk(old), await publicJwk(next)]);
  t = await createTestApp({ EXTERNAL_JWKS_URL: server.url, EXTERNAL_JWT_ISSUER: ISSUER, EXTERNAL_JWT_AUDIENCE: 'parley', AUTH_CACHE_MS: '0', RATE_LIMIT_PUBLIC_IP: '10000/1m' });
});
afterAll(async () => {
  await t?.close();
  await server?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const signWith = (pair: KeyPair, name: string) =>
  new SignJWT({ sub: `nk|${randomBytes(5).toString('hex')}`, preferred_username: name, iss: ISSUER, aud: 'parley', exp: now() + 600 })
    .setProtectedHeader({ alg: 'RS256' })
    .sign(pair.privateKey);
const me = (token: string) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });

describe('an issuer whose keys and tokens carry no kid, in the middle of a key rotation', () => {
  it('signs in users whose tokens either published key signed', async () => {
    const byOld = await me(await signWith(old, 'signed_by_old'));
    expect(byOld.statusCode, byOld.body).toBe(200);
    expect(json(byOld).username).toBe('signed_by_old');
    const byNext = await me(await signWith(next, 'signed_by_next'));
    expect(byNext.statusCode, byNext.body).toBe(200);
    expect(json(byNext).username).toBe('signed_by_next');
  });

  it('refuses a token no published key signed as a bad token, not as an outage, and makes no user', async () => {
    const users = await t.count('users');
    const forged = await me(await signWith(stranger, 'forger'));
    expect(forged.statusCode, forged.body).toBe(401);
    expect(json(forged).code).toBe('invalid_token');
    expect(await t.count('users')).toBe(users);
  });

  it('opens widget visits for the host site\'s users of either key', async () => {
    const owner = await registerUser(t);
    const chatbot = await createChatbot(t, owner, { is_public: true });
    for (const pair of [old, next]) {
      const visit = await startVisitRaw(t, chatbot.slug, { visitor_id: `v-${randomBytes(3).toString('hex')}` }, bearer(await signWith(pair, 'host_site_user')));
      expect(visit.statusCode, visit.body).toBe(201);
    }
  });
});

describe('a key set with more keys of one kind than a token without kid is tried against', () => {
  it('refuses such a token with 401 without trying every key, and still verifies tokens naming their key', async () => {
    const many = await Promise.all(Array.from({ length: 12 }, () => generateKeyPair('RS256', { extractable: true })));
    const keys = await Promise.all(many.map(async (pair, i) => ({ ...(await publicJwk(pair)), kid: `k${i}` })));
    const crowded = await startFakeJwks(keys);
    const app = await createTestApp({ EXTERNAL_JWKS_URL: crowded.url, EXTERNAL_JWT_ISSUER: ISSUER, EXTERNAL_JWT_AUDIENCE: 'parley', AUTH_CACHE_MS: '0' });
    try {
      const call = (token: string) => app.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
      // Signed by the last key, without naming it: finding it would take twelve verifications, past the eight tried.
      const unnamed = await call(await signWith(many[11]!, 'unnamed'));
      expect(unnamed.statusCode, unnamed.body).toBe(401);
      expect(json(unnamed).code).toBe('invalid_token');
      const named = await call(
        await new SignJWT({ sub: 'nk|named', preferred_username: 'named', iss: ISSUER, aud: 'parley', exp: now() + 600 })
          .setProtectedHeader({ alg: 'RS256', kid: 'k11' })
          .sign(many[11]!.privateKey),
      );
      expect(named.statusCode, named.body).toBe(200);
    } finally {
      await app.close();
      await crowded.close();
    }
  });
});
