// AUTH_ISSUERS_FILE: several issuers, each with its own claim mapping and role claim (§3.2, §12).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { startFakeJwks, type FakeJwks } from '../fake-jwks/fake-jwks.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer } from '../helpers/factories.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-issuers-'));
const SECRET = randomBytes(32).toString('hex');
let jwks: FakeJwks;
let t: TestApp;
let signRs: (payload: JWTPayload) => Promise<string>;
let signEs: (payload: JWTPayload) => Promise<string>;

function writeIssuers(content: unknown): string {
  const path = join(dir, `${randomBytes(4).toString('hex')}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

beforeAll(async () => {
  const keys = await generateKeyPair('RS256', { extractable: true });
  // The set also publishes an EC key, which the keycloak issuer (pinned to RS256) must not accept.
  const ecKeys = await generateKeyPair('ES256', { extractable: true });
  jwks = await startFakeJwks([{ ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256' }, { ...(await exportJWK(ecKeys.publicKey)), kid: 'e1' }]);
  signRs = (payload) => new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setExpirationTime('10m').sign(keys.privateKey);
  signEs = (payload) => new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: 'e1' }).setExpirationTime('10m').sign(ecKeys.privateKey);
  const path = writeIssuers([
    { name: 'crm', secret: SECRET, issuer: 'crm', claims: { user_id: ['uid'], username: ['name'] }, role: { claim: 'roles', admin_values: ['parley-admin'] } },
    { name: 'keycloak', jwks_url: jwks.url, issuer: 'https://kc.example.com/realms/main', algorithms: ['RS256'] },
  ]);
  t = await createTestApp({ AUTH_ISSUERS_FILE: path, AUTH_CACHE_MS: '0' });
});
afterAll(async () => {
  await t?.close();
  await jwks?.close();
  rmSync(dir, { recursive: true, force: true });
});

const me = (token: string) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
const crm = (payload: JWTPayload) =>
  new SignJWT({ iss: 'crm', ...payload }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('10m').sign(new TextEncoder().encode(SECRET));

describe('issuers from AUTH_ISSUERS_FILE', () => {
  it('maps each issuer\'s own claims to the user id and username', async () => {
    const uid = randomBytes(4).toString('hex');
    const who = await me(await crm({ uid, name: 'Carla CRM', user_id: 'ignored', username: 'ignored' }));
    expect(who.statusCode, who.body).toBe(200);
    expect(json(who)).toMatchObject({ username: 'Carla CRM', issuer: 'crm' });
    const missing = await me(await crm({ name: 'no id' }));
    expect(missing.statusCode).toBe(401);
    expect(json(missing).detail).toMatch(/uid/);
  });

  it('makes a user an admin through the mapped role claim, and only through an allowed value', async () => {
    const admin = await crm({ uid: randomBytes(4).toString('hex'), name: 'Boss', roles: ['staff', 'parley-admin'] });
    expect(json(await me(admin)).role).toBe('admin');
    expect((await t.request({ method: 'GET', url: '/v1/admin/stats', headers: bearer(admin) })).statusCode).toBe(200);
    const staff = await crm({ uid: randomBytes(4).toString('hex'), name: 'Staff', roles: 'staff' });
    expect(json(await me(staff)).role).toBe('user');
    expect((await t.request({ method: 'GET', url: '/v1/admin/stats', headers: bearer(staff) })).statusCode).toBe(404);
  });

  it('routes by iss to the JWKS issuer, with the default claims', async () => {
    const token = await signRs({ iss: 'https://kc.example.com/realms/main', sub: 'kc-1', preferred_username: 'kc_user' });
    expect(json(await me(token))).toMatchObject({ username: 'kc_user', issuer: 'keycloak' });
    // A token naming another issuer's iss is checked with that issuer's key only.
    expect((await me(await signRs({ iss: 'crm', uid: 'x', name: 'forged' }))).statusCode).toBe(401);
  });

  it('holds each issuer to its own algorithms: keycloak (RS256 only) refuses an ES256 token signed with a key it publishes', async () => {
    const answer = await me(await signEs({ iss: 'https://kc.example.com/realms/main', sub: 'kc-es', preferred_username: 'kc_es_user' }));
    expect(answer.statusCode, answer.body).toBe(401);
    expect(json(answer).code).toBe('invalid_token');
  });

  it('requires exp unless the file says require_exp: false', async () => {
    const uid = randomBytes(4).toString('hex');
    const endless = await new SignJWT({ iss: 'crm', uid, name: 'Endless' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
    const answer = await me(endless);
    expect(answer.statusCode, answer.body).toBe(401);
    expect(json(answer).code).toBe('invalid_token');
    const relaxedPath = writeIssuers([{ name: 'crm', secret: SECRET, issuer: 'crm', require_exp: false, claims: { user_id: ['uid'], username: ['name'] } }]);
    const relaxed = await createTestApp({ AUTH_ISSUERS_FILE: relaxedPath, AUTH_CACHE_MS: '0' }, { sharedWith: t });
    try {
      expect((await relaxed.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(endless) })).statusCode).toBe(200);
    } finally {
      await relaxed.close();
    }
  });

  it('stops at start-up with one line for a malformed file', () => {
    const bad: Array<[unknown, RegExp]> = [
      ['{not json', /cannot read .* as JSON/],
      [{ issuers: 'x' }, /expected an array/],
      [[{ name: 'a', secret: SECRET, jwks_url: 'https://x.example/jwks' }], /exactly one of secret and jwks_url/],
      [[{ name: 'a', secret: 'short' }], /at least 16 bytes/],
      [[{ name: 'a', secret: SECRET, colour: 'red' }], /unknown fields: colour/],
      // A misspelt claim mapping must not fall back to the default claims without a word.
      [[{ name: 'a', secret: SECRET, claims: { userid: ['uid'] } }], /a\.claims has unknown fields: userid/],
      [{ issuers: [], version: 2 }, /unknown fields: version/],
      [[{ name: 'a', secret: SECRET, role: { admin_values: ['x'] } }], /a\.role\.claim is required/],
      [[{ name: 'a', secret: SECRET, role: { claim: 'roles', admin_values: [] } }], /a\.role\.admin_values must be a non-empty list/],
      [[{ name: 'a', jwks_url: 'ftp://x.example/jwks' }], /a\.jwks_url must be an http\(s\) URL/],
      // Fetch refuses such a URL, and its error, the URL whole, would carry the password to the logs.
      [[{ name: 'a', jwks_url: 'https://keys:pw-93-secret@x.example/jwks' }], /a\.jwks_url must not carry a user name or password$/],
      // The entry at fault is named, not only numbered, so it can be found in a long file.
      [[{ name: 'a', secret: SECRET }, { name: 'b', secret: SECRET, require_exp: 'no' }], /: b\.require_exp must be true or false$/],
      [[{ name: 'a', secret: SECRET }, null], /issuer 2 must be an object/],
      [[{ name: 'a', jwks_url: 'https://x.example/jwks', algorithms: ['HS256'] }], /algorithms must be among/],
      [[{ name: 'a', secret: SECRET }, { name: 'a', secret: SECRET }], /named "a"/],
      [[{ name: 'Bad Name', secret: SECRET }], /name must be/],
      // Parley's own tokens carry iss "parley": such an issuer's tokens would all be refused as forged ones of Parley's.
      [[{ name: 'a', secret: SECRET }, { name: 'b', secret: SECRET, issuer: 'parley' }], /: b\.issuer must be the issuer's own iss, not "parley"/],
      // A typo must not quietly switch the exp requirement off or change the tolerance.
      ...['true', 'yes', 1, null].map((value): [unknown, RegExp] => [[{ name: 'a', secret: SECRET, require_exp: value }], /a\.require_exp must be true or false/]),
      ...['30', 5000, -1, 1.5].map((value): [unknown, RegExp] => [[{ name: 'a', secret: SECRET, clock_tolerance_s: value }], /a\.clock_tolerance_s must be a whole number/]),
    ];
    for (const [content, message] of bad) {
      const path = writeIssuers(content);
      const error = (() => {
        try {
          loadConfig({ AUTH_ISSUERS_FILE: path });
        } catch (thrown) {
          return thrown as Error;
        }
        return undefined;
      })();
      expect(error, String(message)).toBeInstanceOf(ConfigError);
      expect(error!.message).toMatch(message);
      expect(error!.message).toMatch(/^AUTH_ISSUERS_FILE: [^\n]+$/);
    }
    expect(() => loadConfig({ AUTH_ISSUERS_FILE: join(dir, 'missing.json') })).toThrow(/cannot read/);
    for (const key of [{ EXTERNAL_JWT_SECRET: SECRET }, { EXTERNAL_JWKS_URL: 'https://idp.example.com/jwks.json' }]) {
      expect(() => loadConfig({ ...key, EXTERNAL_JWT_ISSUER: 'parley' })).toThrow(/^EXTERNAL_JWT_ISSUER must be the issuer's own iss, not "parley"[^\n]*$/);
    }
  });
});
