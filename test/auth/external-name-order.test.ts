// An external user's username and email follow the issuer (§3.2), and a token is good until it
// expires: after a rename at the issuer, a token issued before it (an old tab) is still accepted.
// Used after a newer token, it must not set the name back: names flip-flopped with whichever
// token was used last. A token's `iat` orders them; one without `iat` cannot be ordered.
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeJwks, type FakeJwks } from '../fake-jwks/fake-jwks.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, uniqueUsername } from '../helpers/factories.js';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

const ISSUER = 'https://names.example.com/';
let jwks: FakeJwks;
let rsa: KeyPair;
let t: TestApp;
let cached: TestApp;

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  jwks = await startFakeJwks([{ ...(await exportJWK(rsa.publicKey)), kid: 'names-1', alg: 'RS256', use: 'sig' }]);
  const env = { EXTERNAL_JWKS_URL: jwks.url, EXTERNAL_JWT_ISSUER: ISSUER, EXTERNAL_JWT_AUDIENCE: 'parley' };
  t = await createTestApp({ ...env, AUTH_CACHE_MS: '0' });
  // A second instance that remembers a synced user (AUTH_CACHE_MS) as long as it may.
  cached = await createTestApp({ ...env, AUTH_CACHE_MS: '60000' }, { sharedWith: t });
});
afterAll(async () => {
  await cached?.close();
  await t?.close();
  await jwks?.close();
});

const now = () => Math.floor(Date.now() / 1000);
// Issued a while ago, so that every `iat` here is in the past.
const T = now() - 600;
const newSub = () => `auth0|${randomBytes(5).toString('hex')}`;

/** A token of `sub` naming them `name`, issued at `iat` (none when undefined). */
function token(sub: string, name: string, iat: number | undefined): Promise<string> {
  const payload: JWTPayload = { sub, preferred_username: name, email: `${name}@example.com`, iss: ISSUER, aud: 'parley', exp: now() + 600 };
  if (iat !== undefined) payload.iat = iat;
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'names-1' }).sign(rsa.privateKey);
}

async function me(app: TestApp, bearerToken: string): Promise<{ username: string; email: string }> {
  const answer = await app.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(bearerToken) });
  expect(answer.statusCode, answer.body).toBe(200);
  const { username, email } = json(answer);
  return { username, email };
}

const named = (name: string) => ({ username: name, email: `${name}@example.com` });

describe('an external user\'s name, synced from tokens issued at different times', () => {
  it('keeps the newer name when a token issued before the rename is used after a newer one', async () => {
    const sub = newSub();
    const [before, after] = [uniqueUsername('old'), uniqueUsername('new')];
    const a = await token(sub, before, T);
    const b = await token(sub, after, T + 10);
    expect(await me(t, b)).toEqual(named(after));
    const logged = t.logs.length;
    // The old tab's token is still valid: it signs the user in, under the newer name.
    expect(await me(t, a)).toEqual(named(after));
    expect(await me(t, b)).toEqual(named(after));
    expect(await me(t, a)).toEqual(named(after));
    expect(t.logs.slice(logged).join('')).not.toContain('external user updated');
    // A rename after both reaches the user with the next token.
    const latest = uniqueUsername('latest');
    expect(await me(t, await token(sub, latest, T + 20))).toEqual(named(latest));
    expect(await me(t, b)).toEqual(named(latest));
  });

  it('applies a token issued in the same second as the one that set the name, and no older one', async () => {
    const sub = newSub();
    const [first, second] = [uniqueUsername('first'), uniqueUsername('second')];
    expect(await me(t, await token(sub, first, T))).toEqual(named(first));
    // Tokens of one second cannot be ordered: the one used last wins, as every token did before.
    expect(await me(t, await token(sub, second, T))).toEqual(named(second));
    expect(await me(t, await token(sub, first, T - 5))).toEqual(named(second));
  });

  it('remembers the newest token that confirmed the name: an older one with another name does not apply', async () => {
    // Renamed to y and back to x at the issuer; the token issued while the name was y is used last.
    const sub = newSub();
    const [x, y] = [uniqueUsername('x'), uniqueUsername('y')];
    const whileY = await token(sub, y, T + 5);
    expect(await me(t, await token(sub, x, T))).toEqual(named(x));
    expect(await me(t, await token(sub, x, T + 20))).toEqual(named(x));
    expect(await me(t, whileY)).toEqual(named(x));
  });

  it('follows the last token used while no token carries iat; once a dated token set the name, an undated one does not replace it', async () => {
    const sub = newSub();
    const [one, two] = [uniqueUsername('one'), uniqueUsername('two')];
    expect(await me(t, await token(sub, one, undefined))).toEqual(named(one));
    expect(await me(t, await token(sub, two, undefined))).toEqual(named(two));
    // A dated token applies over undated ones, and from then on orders the names.
    const [dated, undated] = [uniqueUsername('dated'), uniqueUsername('undated')];
    expect(await me(t, await token(sub, dated, T))).toEqual(named(dated));
    expect(await me(t, await token(sub, undated, undefined))).toEqual(named(dated));
    const later = uniqueUsername('later');
    expect(await me(t, await token(sub, later, T + 1))).toEqual(named(later));
  });

  it('orders names on an instance that remembers synced users (AUTH_CACHE_MS) too', async () => {
    const sub = newSub();
    const [before, after] = [uniqueUsername('old'), uniqueUsername('new')];
    const a = await token(sub, before, T);
    expect(await me(cached, await token(sub, after, T + 10))).toEqual(named(after));
    expect(await me(cached, a)).toEqual(named(after));
    // Renamed back at the issuer: a fresh token with the old name is newer than both.
    expect(await me(cached, await token(sub, before, T + 20))).toEqual(named(before));
    expect(await me(t, a)).toEqual(named(before));
  });
});
