// Identity providers put roles and groups in their access tokens: an Azure AD token carries up to
// 200 group ids, a Keycloak token every realm and client role. Such tokens run to 5–10 KB, and a
// user whose token is that large must be let in like any other; only a bearer longer than any
// header a server takes is refused unread.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeJwks, type FakeJwks } from '../fake-jwks/fake-jwks.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer } from '../helpers/factories.js';

const SECRET = randomBytes(32).toString('hex');
const ISSUER = 'https://login.example.com/tenant/v2.0';
let t: TestApp;
let jwks: FakeJwks;
let rsa: Awaited<ReturnType<typeof generateKeyPair>>;

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  jwks = await startFakeJwks([{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' }]);
  t = await createTestApp({ EXTERNAL_JWT_SECRET: SECRET, EXTERNAL_JWKS_URL: jwks.url, EXTERNAL_JWT_ISSUER: ISSUER, AUTH_CACHE_MS: '0' });
});
afterAll(async () => {
  await t?.close();
  await jwks?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const id = () => `ext_${randomBytes(5).toString('hex')}`;
const groupIds = (count: number) => Array.from({ length: count }, () => crypto.randomUUID());
const signRs = (payload: JWTPayload) => new SignJWT({ iss: ISSUER, exp: now() + 600, ...payload }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(rsa.privateKey);
const signHs = (payload: JWTPayload) =>
  new SignJWT({ iss: ISSUER, exp: now() + 600, ...payload }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));

describe('an external token carrying many roles or groups', () => {
  it('signs in a JWKS issuer\'s user whose token lists 200 groups (about 10 KB), over HTTP', async () => {
    const token = await signRs({ sub: id(), preferred_username: 'many_groups', groups: groupIds(200) });
    expect(token.length).toBeGreaterThan(8_000);
    const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const answer = await fetch(`${base}/v1/auth/me`, { headers: bearer(token) });
    expect(answer.status, await answer.clone().text()).toBe(200);
    expect(await answer.json()).toMatchObject({ username: 'many_groups', issuer: 'external-jwks' });
  });

  it('signs in a shared-secret issuer\'s user whose token lists 300 roles, and lets them chat', async () => {
    const roles = Array.from({ length: 300 }, (_, i) => `app-role-${i}`);
    const token = await signHs({ user_id: id(), username: 'many_roles', roles });
    expect(token.length).toBeGreaterThan(4_096);
    const who = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
    expect(who.statusCode, who.body).toBe(200);
    expect(json(who).username).toBe('many_roles');
    const chat = await t.request({ method: 'POST', url: '/v1/chat', headers: bearer(token), payload: { message: 'hello' } });
    expect(chat.statusCode, chat.body).toBe(201);
  });

  it('still refuses a bearer longer than any header a server takes, unread: 401 problem, no key set fetched, nothing created', async () => {
    const users = await t.count('users');
    const fetches = jwks.fetches();
    const token = await signRs({ sub: id(), preferred_username: 'too_large', padding: 'x'.repeat(20_000) });
    const answer = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
    expect(answer.statusCode).toBe(401);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(answer).code).toBe('invalid_token');
    expect(jwks.fetches()).toBe(fetches);
    expect(await t.count('users')).toBe(users);
  });
});
