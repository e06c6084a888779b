// Behind a load balancer that appends to X-Forwarded-For (most do: nginx's
// $proxy_add_x_forwarded_for, cloud load balancers), the header reads "<whatever the client
// wrote>, <the client's real address>". TRUST_PROXY=true believes the first address, which the
// client writes itself: every per-address limit was keyed on a value the client chose per request.
// TRUST_PROXY takes the number of proxies in front, or their addresses, and then believes the
// address the nearest trusted proxy saw.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

const BALANCER = '10.0.0.5';
const CLIENT = '203.0.113.66';

/** What the balancer forwards: the client's own header with the client's real address appended. */
const viaBalancer = (written: string) => ({ 'x-forwarded-for': `${written}, ${CLIENT}` });

function register(t: TestApp, headers: Record<string, string>, remoteAddress = BALANCER) {
  return t.request({
    method: 'POST',
    url: '/v1/auth/register',
    remoteAddress,
    headers,
    payload: { username: `proxied_${randomBytes(4).toString('hex')}`, password: 'correct horse battery' },
  });
}

describe.each([
  ['1', 'the number of proxies in front'],
  ['10.0.0.0/8', "the proxies' addresses"],
])('TRUST_PROXY=%s (%s) behind a balancer that appends', (trust) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ TRUST_PROXY: trust, RATE_LIMIT_REGISTER_IP: '3/1h' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('counts sign-ups by the address the balancer saw, whatever the client wrote (RATE_LIMIT_REGISTER_IP=3/1h)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await register(t, viaBalancer(`198.18.0.${i + 1}`))).statusCode);
    expect(statuses).toEqual([201, 201, 201, 429, 429, 429]);
    // Another client behind the same balancer has its own count.
    expect((await register(t, { 'x-forwarded-for': '203.0.113.67' })).statusCode).toBe(201);
  });
});

describe('TRUST_PROXY with a list of proxies', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ TRUST_PROXY: '10.0.0.5', RATE_LIMIT_REGISTER_IP: '2/1h' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('believes X-Forwarded-For only from those proxies: a client calling directly is counted by its own address', async () => {
    const direct = '198.51.100.20';
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await register(t, { 'x-forwarded-for': `198.18.1.${i + 1}` }, direct)).statusCode);
    expect(statuses).toEqual([201, 201, 429]);
  });
});
