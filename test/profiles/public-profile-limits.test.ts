// GET /v1/public/profiles/{username} is public like the chatbot pages (§7: public endpoints are
// rate-limited per IP), and every name asked is a database query, found or not: one address
// could send the database as many as it could send requests, and try names as fast as it liked.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let owner: RegisteredUser;

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_PUBLIC_IP: '5/1m', RATE_LIMIT_PUBLIC_VISITOR: '100000/1m', RATE_LIMIT_PUBLIC_CHATBOT: '100000/1m' });
  owner = await registerUser(t);
  await t.request({ method: 'PUT', url: '/v1/profile', headers: bearer(owner.accessToken), payload: { name: 'Dana', bio: 'Builds chatbots' } });
  await createChatbot(t, owner, { name: 'About Dana', is_public: true, use_profile: true });
});
afterAll(async () => {
  await t?.close();
});

const profileOf = (username: string, ip: string) => t.request({ method: 'GET', url: `/v1/public/profiles/${username}`, remoteAddress: ip });

describe('one address asking for 30 public profiles (RATE_LIMIT_PUBLIC_IP=5/1m)', () => {
  it("is held after the address's 5 with 429 and when to retry; another address is still shown the profile", async () => {
    const statuses: Record<number, number> = {};
    for (let n = 0; n < 30; n++) {
      const response = await profileOf(`nobody_${randomBytes(5).toString('hex')}`, '203.0.113.31');
      statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
    }
    expect(statuses).toEqual({ 404: 5, 429: 25 });

    const held = await profileOf(owner.username, '203.0.113.31');
    expect(held.statusCode).toBe(429);
    expect(held.headers['content-type']).toContain('application/problem+json');
    expect(held.json().code).toBe('rate_limited');
    expect(Number(held.headers['retry-after'])).toBeGreaterThan(0);
    expect(held.headers['ratelimit-policy']).toMatch(/^"public_ip";q=5;w=60$/);

    const shown = await profileOf(owner.username, '198.51.100.7');
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).toMatchObject({ username: owner.username, name: 'Dana' });
  });
});
