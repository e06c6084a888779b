// An issuer that signs with private keys and publishes a JWK set (Auth0, Keycloak, OIDC), side
// by side with the shared-secret issuer and local accounts (§3.2).
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeJwks, type FakeJwks } from '../fake-jwks/fake-jwks.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

let jwks: FakeJwks;
let elsewhere: FakeJwks;
let t: TestApp;
let rsa: KeyPair;
let ec: KeyPair;
let publicJwk: JWK;
const SECRET = randomBytes(32).toString('hex');
const ISSUER = 'https://id.example.com/';

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  ec = await generateKeyPair('ES256', { extractable: true });
  publicJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
  jwks = await startFakeJwks([publicJwk, { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' }]);
  elsewhere = await startFakeJwks([]);
  t = await createTestApp({ EXTERNAL_JWKS_URL: jwks.url, EXTERNAL_JWT_ISSUER: ISSUER, EXTERNAL_JWT_AUDIENCE: 'parley', EXTERNAL_JWT_SECRET: SECRET, AUTH_CACHE_MS: '0' });
});
afterAll(async () => {
  await t?.close();
  await jwks?.close();
  await elsewhere?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const me = (token: string) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
const claims = (extra: JWTPayload = {}) => ({ sub: `auth0|${randomBytes(5).toString('hex')}`, preferred_username: 'oidc_user', iss: ISSUER, aud: 'parley', exp: now() + 600, ...extra });

function signRs(payload: JWTPayload, header: Record<string, unknown> = {}) {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1', ...header }).sign(rsa.privateKey);
}

describe('a JWKS issuer (EXTERNAL_JWKS_URL)', () => {
  it('accepts RS256 and ES256 tokens, next to shared-secret tokens and local accounts', async () => {
    const who = await me(await signRs(claims()));
    expect(who.statusCode, who.body).toBe(200);
    expect(json(who)).toMatchObject({ username: 'oidc_user', issuer: 'external-jwks' });
    const es = await new SignJWT(claims({ preferred_username: 'ec_user' })).setProtectedHeader({ alg: 'ES256', kid: 'ec-1' }).sign(ec.privateKey);
    expect(json(await me(es)).username).toBe('ec_user');
    // EXTERNAL_JWT_ISSUER and _AUDIENCE apply to both env issuers: the token names the same iss.
    const hs = await new SignJWT({ user_id: 'u1', username: 'secret_user', iss: ISSUER, aud: 'parley', exp: now() + 60 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
    expect(json(await me(hs)).issuer).toBe('external');
    const local = await registerUser(t);
    expect(json(await me(local.accessToken)).id).toBe(local.id);
  });

  it('refuses an HS256 token signed with the issuer\'s public key as the secret', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(new TextEncoder().encode(pem));
    expect((await me(forged)).statusCode).toBe(401);
  });

  it('pins the algorithms: with EXTERNAL_JWKS_ALGORITHMS=RS256, an ES256 token signed with a published key is refused', async () => {
    const pinned = await createTestApp({ EXTERNAL_JWKS_URL: jwks.url, EXTERNAL_JWT_ISSUER: ISSUER, EXTERNAL_JWT_AUDIENCE: 'parley', EXTERNAL_JWKS_ALGORITHMS: 'RS256', AUTH_CACHE_MS: '0' }, { sharedWith: t });
    try {
      const ask = (token: string) => pinned.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
      expect((await ask(await signRs(claims()))).statusCode).toBe(200);
      const es = await new SignJWT(claims({ preferred_username: 'es_pinned_out' })).setProtectedHeader({ alg: 'ES256', kid: 'ec-1' }).sign(ec.privateKey);
      const answer = await ask(es);
      expect(answer.statusCode, answer.body).toBe(401);
      expect(json(answer).code).toBe('invalid_token');
    } finally {
      await pinned.close();
    }
  });

  it('accepts an RFC 9068 access token (typ at+jwt) from the provider', async () => {
    const answer = await me(await signRs(claims({ preferred_username: 'rfc9068_user' }), { typ: 'at+jwt' }));
    expect(answer.statusCode, answer.body).toBe(200);
    expect(json(answer).username).toBe('rfc9068_user');
  });

  it('refuses odd key ids with 401 and no crash', async () => {
    for (const kid of ['../../etc/passwd', "' OR 1=1 --", 'k'.repeat(10_000), '\u0000']) {
      const answer = await me(await signRs(claims(), { kid }));
      expect(answer.statusCode, kid.slice(0, 20)).toBe(401);
      expect(json(answer).code).toBe('invalid_token');
    }
    expect((await t.request({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('refuses a 10 KB key id without fetching the key set', async () => {
    const fresh = await startFakeJwks([publicJwk]);
    const app = await createTestApp({ EXTERNAL_JWKS_URL: fresh.url, EXTERNAL_JWT_ISSUER: ISSUER, EXTERNAL_JWT_AUDIENCE: 'parley', AUTH_CACHE_MS: '0' }, { sharedWith: t });
    try {
      const ask = (token: string) => app.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
      const answer = await ask(await signRs(claims(), { kid: 'k'.repeat(10_000) }));
      expect(answer.statusCode).toBe(401);
      expect(json(answer).code).toBe('invalid_token');
      expect(fresh.fetches()).toBe(0);
      // The same app does use this key server for a token it can verify.
      expect((await ask(await signRs(claims()))).statusCode).toBe(200);
      expect(fresh.fetches()).toBe(1);
    } finally {
      await app.close();
      await fresh.close();
    }
  });

  it('never fetches keys named in the token (jku, x5u) and ignores an embedded jwk', async () => {
    const attacker = await generateKeyPair('RS256', { extractable: true });
    const attackerJwk = { ...(await exportJWK(attacker.publicKey)), kid: 'evil' };
    const before = elsewhere.fetches();
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', kid: 'evil', jku: elsewhere.url, x5u: elsewhere.url, jwk: attackerJwk })
      .sign(attacker.privateKey);
    expect((await me(token)).statusCode).toBe(401);
    expect(elsewhere.fetches()).toBe(before);
  });

  it('fetches the key set at most once per cooldown, however many unknown key ids arrive', async () => {
    await me(await signRs(claims()));
    const before = jwks.fetches();
    const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => signRs(claims(), { kid: `random-${i}-${randomBytes(3).toString('hex')}` })));
    const answers = await Promise.all(tokens.map((token) => me(token)));
    expect(answers.every((answer) => answer.statusCode === 401)).toBe(true);
    expect(jwks.fetches() - before).toBeLessThanOrEqual(1);
  });

  it('fetches the key set at most once per cooldown when unknown key ids keep arriving, batch after batch', async () => {
    await me(await signRs(claims()));
    const before = jwks.fetches();
    for (let batch = 0; batch < 20; batch++) {
      const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => signRs(claims(), { kid: `later-${batch}-${i}-${randomBytes(3).toString('hex')}` })));
      const answers = await Promise.all(tokens.map((token) => me(token)));
      expect(answers.every((answer) => answer.statusCode === 401)).toBe(true);
    }
    expect(jwks.fetches() - before).toBeLessThanOrEqual(1);
  });

  it('answers a 20 KB Authorization header with 431 or 401, and keeps serving', async () => {
    const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const answer = await fetch(`${base}/v1/auth/me`, { headers: { authorization: `Bearer ${'a'.repeat(20_000)}` } });
    expect([401, 431]).toContain(answer.status);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('checks iss, aud and exp for these tokens too', async () => {
    for (const extra of [{ iss: 'https://other.example.com/' }, { aud: 'someone-else' }, { exp: now() - 3600 }]) {
      expect((await me(await signRs(claims(extra)))).statusCode).toBe(401);
    }
  });
});

describe('an outage of the key server', () => {
  type Ask = (token: string) => Promise<LightMyRequestResponse>;

  /** An app whose JWKS issuer has a key server of its own, so an outage touches no other test. */
  async function withKeyServer(run: (server: FakeJwks, ask: Ask, app: TestApp) => Promise<void>) {
    const server = await startFakeJwks([publicJwk]);
    const app = await createTestApp({ EXTERNAL_JWKS_URL: server.url, EXTERNAL_JWT_ISSUER: ISSUER, EXTERNAL_JWT_AUDIENCE: 'parley', AUTH_CACHE_MS: '0' }, { sharedWith: t });
    try {
      await run(server, (token) => app.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) }), app);
    } finally {
      await app.close();
      await server.close();
    }
  }

  function expectUnavailable(answer: LightMyRequestResponse) {
    expect(answer.statusCode, answer.body).toBe(503);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(answer)).toMatchObject({ status: 503, code: 'issuer_unavailable' });
    expect(String(answer.headers['retry-after'])).toMatch(/^[1-9]\d*$/);
    expect(answer.headers['www-authenticate']).toBeUndefined();
  }

  it.each([[503], [500]])('answers 503 issuer_unavailable with Retry-After while the key server answers %i, and accepts the token once it is back', async (status) => {
    await withKeyServer(async (server, ask, app) => {
      server.setDown(true, status);
      const token = await signRs(claims({ preferred_username: 'waits_for_keys' }));
      expectUnavailable(await ask(token));
      // The operator is told which issuer is failing.
      expect(app.logs.some((line) => line.includes('external issuer keys unavailable') && line.includes('external-jwks'))).toBe(true);
      server.setDown(false);
      // A failed first fetch is tried again a few seconds later, not on every request.
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        vi.setSystemTime(Date.now() + 6_000);
        const later = await ask(token);
        expect(later.statusCode, later.body).toBe(200);
        expect(json(later).username).toBe('waits_for_keys');
      } finally {
        vi.useRealTimers();
      }
    });
  });

  it('answers 503 when the key server cannot be reached at all', async () => {
    await withKeyServer(async (server, ask) => {
      await server.close();
      expectUnavailable(await ask(await signRs(claims())));
    });
  });

  it('answers 503 to a key set that never ends, having read at most a few megabytes of it, and keeps serving', async () => {
    await withKeyServer(async (server, ask, app) => {
      server.setEndless(true);
      expectUnavailable(await ask(await signRs(claims())));
      // The whole timeout (5 s) at loopback speed was gigabytes held in memory, then one string.
      expect(server.endlessBytes()).toBeLessThan(8 * 1024 * 1024);
      expect(app.logs.some((line) => line.includes('external issuer keys unavailable') && line.includes('larger than 512 KB'))).toBe(true);
      expect((await app.request({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      server.setEndless(false);
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        vi.setSystemTime(Date.now() + 31_000);
        expect((await ask(await signRs(claims()))).statusCode).toBe(200);
      } finally {
        vi.useRealTimers();
      }
    });
  });

  it('keeps accepting cached keys while the key server is down, and still refuses bad tokens with 401', async () => {
    await withKeyServer(async (server, ask) => {
      expect((await ask(await signRs(claims()))).statusCode).toBe(200);
      server.setDown(true);
      expect((await ask(await signRs(claims()))).statusCode).toBe(200);
      // The key set was fetched moments ago and holds no such key: the token is at fault.
      const unknownKid = await ask(await signRs(claims(), { kid: 'rotated-2' }));
      expect(unknownKid.statusCode).toBe(401);
      expect(json(unknownKid).code).toBe('invalid_token');
      const stranger = await generateKeyPair('RS256');
      const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(stranger.privateKey);
      expect((await ask(forged)).statusCode).toBe(401);
      expect((await ask(await signRs(claims({ exp: now() - 3600 })))).statusCode).toBe(401);
    });
  });

  it('answers 503 for a new key id when the key set may be fetched again but the key server is down', async () => {
    await withKeyServer(async (server, ask) => {
      expect((await ask(await signRs(claims()))).statusCode).toBe(200);
      server.setDown(true);
      // Past the refetch cooldown (jose reads the time from Date), as after a key rotation.
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        vi.setSystemTime(Date.now() + 31_000);
        expectUnavailable(await ask(await signRs(claims(), { kid: 'rotated-2' })));
        expect((await ask(await signRs(claims()))).statusCode).toBe(200);
      } finally {
        vi.useRealTimers();
      }
    });
  });
});

describe('the Supabase preset on asymmetric keys (SUPABASE_URL without a secret)', () => {
  it('verifies tokens with the project\'s published keys', async () => {
    const base = jwks.url.replace(/\/jwks\.json$/, '');
    const app = await createTestApp({ SUPABASE_URL: base }, { sharedWith: t });
    try {
      const sign = (payload: JWTPayload) =>
        new SignJWT({ iss: `${base}/auth/v1`, aud: 'authenticated', exp: now() + 600, ...payload }).setProtectedHeader({ alg: 'ES256', kid: 'ec-1' }).sign(ec.privateKey);
      const who = await app.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(await sign({ sub: randomBytes(8).toString('hex'), email: 'sb@example.com' })) });
      expect(who.statusCode, who.body).toBe(200);
      expect(json(who)).toMatchObject({ username: 'sb@example.com', issuer: 'supabase' });
      const anon = await app.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(await sign({ role: 'anon', email: 'x@example.com' })) });
      expect(anon.statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });
});
