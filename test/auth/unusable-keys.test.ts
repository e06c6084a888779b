// A key set may hold keys that cannot verify anything: a private key published by mistake, a
// key whose numbers are not a point on its curve, an encryption key, an RSA key too short to
// trust. A token naming such a key is a bad token: 401, the same for every caller, never a 503
// that tells clients to retry and the operator that the issuer is down.
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { generateKeyPairSync, randomBytes, sign as rawSign } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeJwks, type FakeJwks } from '../fake-jwks/fake-jwks.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startVisitRaw } from '../helpers/public.js';

const ISSUER = 'https://odd-keys.example.com/';
let server: FakeJwks;
let t: TestApp;
let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
let ec: Awaited<ReturnType<typeof generateKeyPair>>;
const short = generateKeyPairSync('rsa', { modulusLength: 1024 });

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  ec = await generateKeyPair('ES256', { extractable: true });
  const ecPublic = await exportJWK(ec.publicKey);
  const keys: JWK[] = [
    { ...(await exportJWK(rsa.publicKey)), kid: 'good', alg: 'RS256', use: 'sig' },
    // The issuer's private key itself, published by mistake.
    { ...(await exportJWK(rsa.privateKey)), kid: 'private' },
    // An EC key whose coordinates are not a point on P-256.
    { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'not-a-point' },
    // The right curve named, the wrong coordinates' length.
    { ...ecPublic, x: ecPublic.x!.slice(0, 10), kid: 'cut-short' },
    { kty: 'RSA', n: '!!!!', e: 'AQAB', kid: 'not-base64url' },
    { ...(await exportJWK(rsa.publicKey)), kid: 'for-encryption', use: 'enc' },
    { ...(await exportJWK(rsa.publicKey)), kid: 'encrypt-only', key_ops: ['encrypt'] },
    { ...(await exportJWK(short.publicKey)), kid: 'rsa-1024' },
  ];
  server = await startFakeJwks(keys);
  t = await createTestApp({
    EXTERNAL_JWKS_URL: server.url,
    EXTERNAL_JWT_ISSUER: ISSUER,
    EXTERNAL_JWT_AUDIENCE: 'parley',
    EXTERNAL_JWKS_ALGORITHMS: 'RS256,ES256',
    AUTH_CACHE_MS: '0',
    RATE_LIMIT_PUBLIC_IP: '10000/1m',
  });
});
afterAll(async () => {
  await t?.close();
  await server?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: JWTPayload = {}) => ({ sub: `kc|${randomBytes(5).toString('hex')}`, preferred_username: 'odd_key_user', iss: ISSUER, aud: 'parley', exp: now() + 600, ...extra });
const me = (token: string) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });

/** Tokens naming each unusable key, each signed so that only the key's fault can refuse it. */
async function tokensForUnusableKeys(): Promise<Record<string, string>> {
  const rs = (kid: string) => new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid }).sign(rsa.privateKey);
  const es = (kid: string) => new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', kid }).sign(ec.privateKey);
  // jose will not sign with a key under 2048 bits; the token is made by hand.
  const input = `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'rsa-1024' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}`;
  return {
    private: await rs('private'),
    'not-a-point': await es('not-a-point'),
    'cut-short': await es('cut-short'),
    'not-base64url': await rs('not-base64url'),
    'for-encryption': await rs('for-encryption'),
    'encrypt-only': await rs('encrypt-only'),
    'rsa-1024': `${input}.${rawSign('sha256', Buffer.from(input), short.privateKey).toString('base64url')}`,
  };
}

function expectBadToken(answer: LightMyRequestResponse, kid: string) {
  expect(answer.statusCode, `${kid}: ${answer.body}`).toBe(401);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(json(answer).code).toBe('invalid_token');
}

describe('a token naming a key of the set that cannot verify it', () => {
  it('is refused with 401 invalid_token, never 503 issuer_unavailable, and no outage is logged', async () => {
    expect((await me(await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'good' }).sign(rsa.privateKey))).statusCode).toBe(200);
    const logged = t.logs.length;
    for (const [kid, token] of Object.entries(await tokensForUnusableKeys())) expectBadToken(await me(token), kid);
    const since = t.logs.slice(logged).join('\n');
    expect(since).not.toContain('issuer_unavailable');
    expect(since).not.toContain('external issuer keys unavailable');
    // The key server was asked once, at the first token; none of these made it ask again.
    expect(server.fetches()).toBe(1);
  });

  it('opens no widget visit for a host site\'s user and stores nothing', async () => {
    const owner = await registerUser(t);
    const chatbot = await createChatbot(t, owner, { is_public: true });
    const before = { visitors: await t.count('visitors'), conversations: await t.count('conversations'), users: await t.count('users') };
    for (const [kid, token] of Object.entries(await tokensForUnusableKeys())) {
      expectBadToken(await startVisitRaw(t, chatbot.slug, { visitor_id: `widget-${kid}` }, bearer(token)), kid);
    }
    expect({ visitors: await t.count('visitors'), conversations: await t.count('conversations'), users: await t.count('users') }).toEqual(before);
  });
});
