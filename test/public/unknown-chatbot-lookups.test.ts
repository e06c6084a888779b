// Public lookups count the address before the chatbot is looked up. GET /v1/public/chatbots/{x}
// and POST …/{x}/conversations looked the chatbot up first, and GET /c/{x} never counted the
// address: a name nobody has is a database query every time (a miss is kept for its exact name
// only), so one address could send the database as many queries as it could send requests (§7:
// public endpoints are rate-limited per IP).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { metricValue } from '../helpers/factories.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_PUBLIC_IP: '5/1m', RATE_LIMIT_PUBLIC_VISITOR: '100000/1m', RATE_LIMIT_PUBLIC_CHATBOT: '100000/1m' });
});
afterAll(async () => {
  await t?.close();
});

const unknownName = () => `no-such-bot-${randomBytes(6).toString('hex')}`;

async function flood(request: (name: string) => Parameters<TestApp['request']>[0], ip: string) {
  const statuses: Record<number, number> = {};
  for (let n = 0; n < 30; n++) {
    const response = await t.request({ ...request(unknownName()), remoteAddress: ip });
    statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
  }
  return statuses;
}

describe('one address looking up 30 chatbot names nobody has (RATE_LIMIT_PUBLIC_IP=5/1m)', () => {
  it("GET /v1/public/chatbots/{name}: held after the address's 5, like every other public request, readable by the widget's site", async () => {
    const statuses = await flood((name) => ({ method: 'GET', url: `/v1/public/chatbots/${name}` }), '203.0.113.21');
    expect(statuses).toEqual({ 404: 5, 429: 25 });
    const held = await t.request({ method: 'GET', url: `/v1/public/chatbots/${unknownName()}`, remoteAddress: '203.0.113.21', headers: { origin: 'https://shop.example' } });
    expect(held.statusCode).toBe(429);
    expect(held.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(held.headers['access-control-expose-headers']).toMatch(/retry-after/i);
  });

  it('POST /v1/public/chatbots/{name}/conversations: held after 5', async () => {
    const statuses = await flood((name) => ({ method: 'POST', url: `/v1/public/chatbots/${name}/conversations`, payload: { visitor_id: 'x' } }), '203.0.113.22');
    expect(statuses).toEqual({ 404: 5, 429: 25 });
  });

  it('GET /c/{name} (the hosted page): held after 5', async () => {
    const statuses = await flood((name) => ({ method: 'GET', url: `/c/${name}` }), '203.0.113.23');
    expect(statuses).toEqual({ 404: 5, 429: 25 });
    expect(await metricValue(t, 'parley_rate_limit_refusals_total', { policy: 'public_ip' })).toBeGreaterThan(0);
    // A person sees a page saying when to try again.
    const held = await t.request({ method: 'GET', url: `/c/${unknownName()}`, remoteAddress: '203.0.113.23' });
    expect(held.statusCode).toBe(429);
    expect(held.headers['content-type']).toContain('text/html');
    expect(Number(held.headers['retry-after'])).toBeGreaterThan(0);
    expect(held.body).toContain('Try again in');
  });
});
