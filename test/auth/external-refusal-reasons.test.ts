// A token its issuer really signed, refused for one of its claims, says which: a client tells an
// expired token (get a new one from the provider) from a bad one, and an operator whose
// EXTERNAL_JWT_ISSUER or _AUDIENCE differs from what the provider writes sees where. A token the
// issuer did not sign is told nothing about its expiry or audience.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeJwks, type FakeJwks } from '../fake-jwks/fake-jwks.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer } from '../helpers/factories.js';

const SECRET = randomBytes(32).toString('hex');
// As Auth0 writes it: with a trailing slash.
const ISSUER = 'https://tenant.example.com/';
let t: TestApp;
let jwks: FakeJwks;
let rsa: Awaited<ReturnType<typeof generateKeyPair>>;

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  jwks = await startFakeJwks([{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' }]);
  t = await createTestApp({ EXTERNAL_JWT_SECRET: SECRET, EXTERNAL_JWKS_URL: jwks.url, EXTERNAL_JWT_ISSUER: ISSUER, EXTERNAL_JWT_AUDIENCE: 'parley-api', AUTH_CACHE_MS: '0' });
});
afterAll(async () => {
  await t?.close();
  await jwks?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: JWTPayload = {}): JWTPayload => ({ sub: `u_${randomBytes(5).toString('hex')}`, preferred_username: 'someone', iss: ISSUER, aud: 'parley-api', exp: now() + 600, ...extra });
const signRs = (payload: JWTPayload) => new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(rsa.privateKey);
const signHs = (payload: JWTPayload, secret = SECRET) => new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
const me = (token: string) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });

function expectRefused(answer: LightMyRequestResponse, detail: RegExp) {
  expect(answer.statusCode, answer.body).toBe(401);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(json(answer).code).toBe('invalid_token');
  expect(json(answer).detail).toMatch(detail);
}

describe('a token its issuer signed, refused for a claim', () => {
  it.each([
    ['JWKS', signRs],
    ['shared-secret', (payload: JWTPayload) => signHs(payload)],
  ])('says an expired %s token has expired', async (_kind, sign) => {
    expectRefused(await me(await sign(claims({ exp: now() - 3600 }))), /expired/i);
  });

  it('names the audience when it is not the one configured', async () => {
    expectRefused(await me(await signRs(claims({ aud: 'another-app' }))), /\baud\b/);
  });

  it('says the token is not valid yet when its nbf is ahead', async () => {
    expectRefused(await me(await signRs(claims({ nbf: now() + 3600 }))), /not valid yet|\bnbf\b/);
  });

  it('names a required exp that is missing', async () => {
    const { exp: _exp, ...noExp } = claims();
    expectRefused(await me(await signRs(noExp)), /\bexp\b/);
  });

  it('names the issuer when the token\'s iss is not one configured (a missing trailing slash), or missing', async () => {
    expectRefused(await me(await signRs(claims({ iss: ISSUER.replace(/\/$/, '') }))), /\biss\b/);
    const { iss: _iss, ...noIss } = claims();
    expectRefused(await me(await signHs(noIss)), /\biss\b/);
  });
});

describe('a token its issuer did not sign', () => {
  it.each([
    ['expired', { exp: now() - 3600 }],
    ['for another audience', { aud: 'another-app' }],
  ])('is told nothing about its claims when %s', async (_what, extra) => {
    const answer = await me(await signHs(claims(extra), randomBytes(32).toString('hex')));
    expectRefused(answer, /^The access token is not valid$/);
  });
});
