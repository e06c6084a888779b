// A user of another system whose token carries no username is named by their email (§3.2). A
// public page never shows an email: their chatbot's page names no owner. The public profile did:
// asked for by the address, it answered 200 with the address as `username` and the profile under
// it, so anyone with a list of addresses learned which belong to an owner of a public chatbot,
// and tied each to the name, place and life the profile tells. Such a profile is now the same 404
// as an unknown user; owners with a real username are shown as before.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, uniqueUsername } from '../helpers/factories.js';

const EXTERNAL_SECRET = randomBytes(32).toString('hex');
const PROFILE = { name: 'Jane Private', location: 'Oslo', bio: 'Runs a bakery.', skills: '', experience: '', interests: '' };

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ EXTERNAL_JWT_SECRET: EXTERNAL_SECRET });
});
afterAll(async () => {
  await t?.close();
});

const externalToken = (claims: Record<string, string>) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(`ext-${randomBytes(5).toString('hex')}`)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(EXTERNAL_SECRET));

/** An external user who shows their profile through a public chatbot; answers their username. */
async function showingOwner(claims: Record<string, string>): Promise<string> {
  const token = await externalToken(claims);
  const me = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
  expect(me.statusCode, me.body).toBe(200);
  const saved = await t.request({ method: 'PUT', url: '/v1/profile', headers: bearer(token), payload: PROFILE });
  expect(saved.statusCode, saved.body).toBe(200);
  const bot = await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(token), payload: { name: 'Bakery help', is_public: true, use_profile: true } });
  expect(bot.statusCode, bot.body).toBe(201);
  return json(me).username as string;
}

const publicProfile = (username: string) => t.request({ method: 'GET', url: `/v1/public/profiles/${encodeURIComponent(username)}` });

function notFoundShape(response: LightMyRequestResponse) {
  expect(response.statusCode, response.body).toBe(404);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const { request_id: _id, ...rest } = json(response);
  return rest;
}

describe('GET /v1/public/profiles/{username} for an owner named by an email address', () => {
  it('is the same 404 as an unknown user, in any case, and never shows the address', async () => {
    const email = `${uniqueUsername('jane')}@example.org`;
    const username = await showingOwner({ email });
    expect(username).toBe(email);
    const unknown = notFoundShape(await publicProfile(`${uniqueUsername('nobody')}@example.org`));
    for (const asked of [email, email.toUpperCase()]) {
      const response = await publicProfile(asked);
      expect(notFoundShape(response), asked).toEqual(unknown);
      expect(response.body).not.toContain('Jane Private');
    }
  });

  it('is a 404 too when the username claim itself is an address', async () => {
    const email = `${uniqueUsername('kim')}@example.net`;
    expect(await showingOwner({ preferred_username: email })).toBe(email);
    notFoundShape(await publicProfile(email));
  });

  it('still shows an external owner who has a username', async () => {
    const name = uniqueUsername('baker');
    expect(await showingOwner({ username: name, email: `${name}@example.org` })).toBe(name);
    const response = await publicProfile(name);
    expect(response.statusCode, response.body).toBe(200);
    expect(json(response)).toEqual({ username: name, ...PROFILE });
    expect(response.body).not.toContain('@');
  });
});
