import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { metricValue, registerUser, uniqueUsername } from '../helpers/factories.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

// Client addresses come from the documentation ranges (RFC 5737); each test uses its own.
const WRONG = 'not the password';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const login = (t: TestApp, username: string, password: string, ip: string) =>
  t.request({ method: 'POST', url: '/v1/auth/login', payload: { username, password }, remoteAddress: ip });

const passwordGrant = (t: TestApp, username: string, password: string, ip: string) =>
  t.request({
    method: 'POST',
    url: '/v1/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
    remoteAddress: ip,
  });

/** Asserts a 429 with Retry-After and the IETF RateLimit fields of `policy` (§12); returns Retry-After. */
function expectRateLimited(response: LightMyRequestResponse, policy: string, limit: number, windowSeconds: number): number {
  expect(response.statusCode, response.body).toBe(429);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(json(response)).toMatchObject({ status: 429, code: 'rate_limited' });
  const retryAfter = String(response.headers['retry-after']);
  expect(retryAfter).toMatch(/^\d+$/);
  const seconds = Number(retryAfter);
  expect(seconds).toBeGreaterThanOrEqual(1);
  expect(seconds).toBeLessThanOrEqual(windowSeconds);
  expect(response.headers['ratelimit-policy']).toBe(`"${policy}";q=${limit};w=${windowSeconds}`);
  expect(response.headers.ratelimit).toBe(`"${policy}";r=0;t=${seconds}`);
  return seconds;
}

const verifications = (t: TestApp) => metricValue(t, 'parley_password_hash_operations_total', { operation: 'verify' });
const refusals = (t: TestApp, policy: string) => metricValue(t, 'parley_rate_limit_refusals_total', { policy });

describe('failed logins per account (RATE_LIMIT_LOGIN_ACCOUNT=3/2s)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Time stands still unless a test moves it, so waiting out a window takes no real time. The
    // in-memory limiter reads Date itself (it is not handed the app's clock), so Date is what moves.
    vi.useFakeTimers({ toFake: ['Date'] });
    t = await createTestApp({ RATE_LIMIT_LOGIN_ACCOUNT: '3/2s' });
  });
  afterAll(async () => {
    await t.close();
    vi.useRealTimers();
  });

  it('refuses the 4th attempt with 429, even with the right password, and lets it in again after the window', async () => {
    const user = await registerUser(t);
    const ip = '192.0.2.10';
    for (let i = 0; i < 3; i++) {
      const response = await login(t, user.username, WRONG, ip);
      expect(response.statusCode).toBe(401);
      expect(json(response).code).toBe('invalid_credentials');
    }
    const verifiesBefore = await verifications(t);
    const refused = await login(t, user.username, user.password, ip);
    expectRateLimited(refused, 'login_account', 3, 2);
    // A refused attempt costs no password hashing (no CPU amplification).
    expect(await verifications(t)).toBe(verifiesBefore);

    // The lock-out never outlasts the window.
    vi.setSystemTime(Date.now() + 2_200);
    const again = await login(t, user.username, user.password, ip);
    expect(again.statusCode).toBe(200);
    expect(json(again).user.id).toBe(user.id);
  });

  it('counts the account whatever the case of the username', async () => {
    const user = await registerUser(t);
    const ip = '192.0.2.11';
    for (const name of [user.username, user.username.toUpperCase(), user.username]) {
      expect((await login(t, name, WRONG, ip)).statusCode).toBe(401);
    }
    expectRateLimited(await login(t, user.username.toUpperCase(), user.password, ip), 'login_account', 3, 2);
  });

  it('counts one account whether it is named by username or by email', async () => {
    const email = `${uniqueUsername('mail')}@example.com`;
    const user = await registerUser(t, { email });
    const ip = '192.0.2.12';
    expect((await login(t, user.username, WRONG, ip)).statusCode).toBe(401);
    expect((await t.request({ method: 'POST', url: '/v1/auth/login', payload: { email, password: WRONG }, remoteAddress: ip })).statusCode).toBe(401);
    expect((await login(t, email.toUpperCase(), WRONG, ip)).statusCode).toBe(401);
    expectRateLimited(await login(t, user.username, user.password, ip), 'login_account', 3, 2);
  });

  it('throttles an unknown username exactly like a real one (no enumeration through 429s)', async () => {
    const real = await registerUser(t);
    const ghost = uniqueUsername('ghost');
    const ip = '192.0.2.20';
    for (let i = 0; i < 3; i++) {
      expect((await login(t, real.username, WRONG, ip)).statusCode).toBe(401);
      const unknown = await login(t, ghost, WRONG, ip);
      expect(unknown.statusCode).toBe(401);
      expect(json(unknown).code).toBe('invalid_credentials');
    }
    const realRefused = await login(t, real.username, WRONG, ip);
    const ghostRefused = await login(t, ghost, WRONG, ip);
    expectRateLimited(realRefused, 'login_account', 3, 2);
    expectRateLimited(ghostRefused, 'login_account', 3, 2);
    const strip = (response: LightMyRequestResponse) => ({ ...json(response), request_id: undefined });
    expect(strip(ghostRefused)).toEqual(strip(realRefused));
  });

  it('does not lock the real user out: an address that signed in before keeps working while new ones are refused', async () => {
    const user = await registerUser(t);
    const [userIp, attackerIp, newIp] = ['198.51.100.2', '203.0.113.66', '198.51.100.3'];
    expect((await login(t, user.username, user.password, userIp)).statusCode).toBe(200);

    for (let i = 0; i < 3; i++) expect((await login(t, user.username, WRONG, attackerIp)).statusCode).toBe(401);
    expectRateLimited(await login(t, user.username, WRONG, attackerIp), 'login_account', 3, 2);
    // Even the right password does not get the attacker's address in.
    expectRateLimited(await login(t, user.username, user.password, attackerIp), 'login_account', 3, 2);

    const fromUser = await login(t, user.username, user.password, userIp);
    expect(fromUser.statusCode).toBe(200);
    expect(json(fromUser).user.id).toBe(user.id);
    expectRateLimited(await login(t, user.username, user.password, newIp), 'login_account', 3, 2);
  });

  it('counts refusals in parley_rate_limit_refusals_total{policy="login_account"}', async () => {
    const ghost = uniqueUsername('ghost');
    const ip = '192.0.2.30';
    const before = await refusals(t, 'login_account');
    for (let i = 0; i < 3; i++) expect((await login(t, ghost, WRONG, ip)).statusCode).toBe(401);
    expect(await refusals(t, 'login_account')).toBe(before);
    expectRateLimited(await login(t, ghost, WRONG, ip), 'login_account', 3, 2);
    expectRateLimited(await login(t, ghost, WRONG, ip), 'login_account', 3, 2);
    expect(await refusals(t, 'login_account')).toBe(before + 2);
  });
});

describe('login attempts per address (RATE_LIMIT_LOGIN_IP=5/1m)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_LOGIN_IP: '5/1m' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('refuses the 6th attempt from one address, across usernames, and leaves other addresses alone', async () => {
    const user = await registerUser(t);
    const ip = '192.0.2.40';
    for (let i = 0; i < 5; i++) expect((await login(t, uniqueUsername('spray'), WRONG, ip)).statusCode).toBe(401);
    const before = await refusals(t, 'login_ip');
    expectRateLimited(await login(t, user.username, user.password, ip), 'login_ip', 5, 60);
    expect(await refusals(t, 'login_ip')).toBe(before + 1);

    const elsewhere = await login(t, user.username, user.password, '192.0.2.41');
    expect(elsewhere.statusCode).toBe(200);
    expect(json(elsewhere).user.id).toBe(user.id);
  });

  it('counts the OAuth2 password grant on /v1/auth/token like /v1/auth/login', async () => {
    const user = await registerUser(t);
    const ip = '192.0.2.42';
    for (let i = 0; i < 3; i++) expect((await login(t, uniqueUsername('spray'), WRONG, ip)).statusCode).toBe(401);
    for (let i = 0; i < 2; i++) expect((await passwordGrant(t, uniqueUsername('spray'), WRONG, ip)).statusCode).toBe(401);
    expectRateLimited(await passwordGrant(t, user.username, user.password, ip), 'login_ip', 5, 60);
    expectRateLimited(await login(t, user.username, user.password, ip), 'login_ip', 5, 60);

    const other = '192.0.2.43';
    for (let i = 0; i < 5; i++) expect((await passwordGrant(t, uniqueUsername('spray'), WRONG, other)).statusCode).toBe(401);
    expectRateLimited(await login(t, user.username, user.password, other), 'login_ip', 5, 60);
  });
});

describe('registrations per address (RATE_LIMIT_REGISTER_IP=2/1h)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_REGISTER_IP: '2/1h' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('refuses the third registration from one address and creates no user for it', async () => {
    const ip = '192.0.2.50';
    await registerUser(t, { ip });
    await registerUser(t, { ip });
    const users = await t.count('users');
    const username = uniqueUsername('third');
    const refused = await t.request({
      method: 'POST',
      url: '/v1/auth/register',
      payload: { username, password: 'a long enough password' },
      remoteAddress: ip,
    });
    expectRateLimited(refused, 'register_ip', 2, 3600);
    expect(await t.count('users')).toBe(users);
    const rows = await t.database.sql.query('SELECT id FROM users WHERE lower(username) = lower($1)', [username]);
    expect(rows).toHaveLength(0);

    // Another address still registers.
    await registerUser(t, { ip: '192.0.2.51' });
    expect(await t.count('users')).toBe(users + 1);
  });
});

describe('a limit set to off', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_LOGIN_ACCOUNT: 'off' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('is not applied: 20 failures, then the right password signs in', async () => {
    const user = await registerUser(t);
    const ip = '192.0.2.60';
    for (let i = 0; i < 20; i++) expect((await login(t, user.username, WRONG, ip)).statusCode).toBe(401);
    expect((await login(t, user.username, user.password, ip)).statusCode).toBe(200);
    expect(await refusals(t, 'login_account')).toBe(0);
  });
});

describe('limits kept in Redis', () => {
  const redisUrl = process.env.TEST_REDIS_URL;
  // Without TEST_REDIS_URL the shared-Redis test is skipped with its reason, except in CI where a skip is a failure.
  const skipRedis = !redisUrl && process.env.CI !== 'true';
  const skipReason = skipRedis ? ' (skipped: set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379, to run)' : '';
  // Usernames and user ids whose keys the test leaves in Redis.
  const usedUsernames: string[] = [];

  afterAll(async () => {
    if (!redisUrl || usedUsernames.length === 0) return;
    // Tidy the shared Redis: "known address" entries live for 30 days.
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      for (const username of usedUsernames) {
        const keys = await redis.keys(`parley:rl:*${username}*`);
        if (keys.length) await redis.del(...keys);
      }
    } finally {
      redis.disconnect();
    }
  });

  it.skipIf(skipRedis)(
    `share the per-account limit between two instances, from the first request after start${skipReason}`,
    async () => {
      if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
      const env = { REDIS_URL: redisUrl, RATE_LIMIT_LOGIN_ACCOUNT: '3/2s' };
      const one = await createTestApp(env);
      const two = await createTestApp(env, { sharedWith: one });
      try {
        // Two instances on one database, as behind a load balancer.
        const username = uniqueUsername('shared');
        usedUsernames.push(username);
        const password = 'the shared password';
        const registered = await registerUser(one, { username, password });
        usedUsernames.push(registered.id);

        const ip = '192.0.2.70';
        for (let i = 0; i < 3; i++) expect((await login(one, username, WRONG, ip)).statusCode).toBe(401);
        const before = await refusals(two, 'login_account');
        expectRateLimited(await login(two, username, password, ip), 'login_account', 3, 2);
        expect(await refusals(two, 'login_account')).toBe(before + 1);
        expectRateLimited(await login(one, username, password, ip), 'login_account', 3, 2);

        // Redis keeps the window's time itself: this one wait is real.
        await sleep(2200);
        expect((await login(two, username, password, ip)).statusCode).toBe(200);

        // A known address is remembered for every instance too.
        const attacker = '203.0.113.70';
        for (let i = 0; i < 3; i++) expect((await login(two, username, WRONG, attacker)).statusCode).toBe(401);
        expectRateLimited(await login(one, username, password, attacker), 'login_account', 3, 2);
        expect((await login(one, username, password, ip)).statusCode).toBe(200);
      } finally {
        await two.close();
        await one.close();
      }

      // Redis is up: the very first request after start must not be refused as if it were down.
      const fresh = await createTestApp({ REDIS_URL: redisUrl, REDIS_FAILURE_MODE: 'closed' });
      try {
        const username = uniqueUsername('early');
        usedUsernames.push(username);
        const first = await login(fresh, username, WRONG, '192.0.2.75');
        expect(first.statusCode, `first request after start with a reachable Redis: ${first.body}`).toBe(401);
      } finally {
        await fresh.close();
      }
    },
    90_000,
  );

  it.skipIf(skipRedis)(
    `stops waiting on a Redis that went silent: sign-ins go on, Redis is tried about once a second, and limits hold again once it answers${skipReason}`,
    async () => {
      if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
      const target = new URL(redisUrl);
      const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
      const t = await createTestApp({ REDIS_URL: proxy.url(redisUrl), RATE_LIMIT_LOGIN_ACCOUNT: '3/2s' });
      try {
        const user = await registerUser(t, { ip: '192.0.2.100' });
        usedUsernames.push(user.username, user.id);

        // A partition: every command is held, nothing comes back, no reset arrives.
        proxy.stall(true);
        const writes = proxy.clientWrites();
        for (let i = 0; i < 8; i++) expect((await login(t, user.username, user.password, '192.0.2.101')).statusCode).toBe(200);
        // Each sign-in passes four limits: asking Redis every time was 32 commands, each waiting out its 1 s timeout.
        expect(proxy.clientWrites() - writes).toBeLessThanOrEqual(5);

        proxy.stall(false);
        const fresh = await registerUser(t, { ip: '192.0.2.102' });
        usedUsernames.push(fresh.username, fresh.id);
        let last: LightMyRequestResponse | undefined;
        for (let i = 0; i < 30 && last?.statusCode !== 429; i++) {
          last = await login(t, fresh.username, WRONG, '192.0.2.103');
          if (last.statusCode !== 429) await sleep(100);
        }
        expectRateLimited(last!, 'login_account', 3, 2);
      } finally {
        await t.close();
        await proxy.close();
      }
    },
    60_000,
  );

  it.skipIf(skipRedis)(
    `counts requests that come together on a Redis that answers: none is refused as if it were down${skipReason}`,
    async () => {
      if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
      const t = await createTestApp({ REDIS_URL: redisUrl, REDIS_FAILURE_MODE: 'closed', RATE_LIMIT_LOGIN_ACCOUNT: '100/1m' });
      try {
        const user = await registerUser(t, { ip: '192.0.2.110' });
        usedUsernames.push(user.username, user.id);
        const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => login(t, user.username, user.password, `192.0.2.${111 + i}`)));
        expect(answers.map((answer) => answer.statusCode)).toEqual(answers.map(() => 200));
      } finally {
        await t.close();
      }
    },
    60_000,
  );

  it('fails open by default when Redis cannot be reached: sign-in keeps working, no crash', async () => {
    const t = await createTestApp({ REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_LOGIN_ACCOUNT: '3/2s' });
    try {
      const user = await registerUser(t, { ip: '192.0.2.80' });
      const ip = '192.0.2.81';
      expect((await login(t, user.username, WRONG, ip)).statusCode).toBe(401);
      const ok = await login(t, user.username, user.password, ip);
      expect(ok.statusCode).toBe(200);
      expect(json(ok).user.id).toBe(user.id);
      expect((await t.request({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      // The outage is reported to the operator, not hidden.
      expect(t.logs.some((line) => /"level":40/.test(line) && /rate limit|redis/i.test(line))).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('fails open when what answers at REDIS_URL announces an endless reply: each connection is cut at once, sign-in keeps working', async () => {
    // Any command is answered with a bulk reply of 99,999,999,999 bytes, sent until the client hangs up.
    const sentPerConnection: number[] = [];
    const sockets = new Set<Socket>();
    const hostile = createServer((socket) => {
      sockets.add(socket);
      let sent = 0;
      const piece = Buffer.alloc(64 * 1024, 'x');
      const pour = () => {
        while (!socket.destroyed && socket.write(piece)) sent += piece.length;
      };
      socket.on('error', () => {});
      socket.once('data', () => {
        socket.write('$99999999999\r\n');
        pour();
        socket.on('drain', pour);
      });
      socket.on('close', () => (sockets.delete(socket), sentPerConnection.push(sent)));
    });
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
    const t = await createTestApp({ REDIS_URL: `redis://127.0.0.1:${(hostile.address() as AddressInfo).port}`, RATE_LIMIT_LOGIN_ACCOUNT: '3/2s' });
    try {
      const user = await registerUser(t, { ip: '192.0.2.82' });
      const ok = await login(t, user.username, user.password, '192.0.2.83');
      expect(ok.statusCode).toBe(200);
      expect((await t.request({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      await vi.waitFor(() => expect(t.logs.some((line) => /announced a reply of 99,999,999,999 bytes/.test(line))).toBe(true));
      await vi.waitFor(() => expect(sentPerConnection.length).toBeGreaterThan(0));
      // Before, each connection read on until its command timed out: hundreds of megabytes held in memory.
      expect(Math.max(...sentPerConnection)).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await t.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => hostile.close(resolve));
    }
  });

  it('answers 503 service_unavailable with REDIS_FAILURE_MODE=closed when Redis cannot be reached', async () => {
    const t = await createTestApp({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_FAILURE_MODE: 'closed' });
    try {
      const users = await t.count('users');
      const register = await t.request({
        method: 'POST',
        url: '/v1/auth/register',
        payload: { username: uniqueUsername('closed'), password: 'a long enough password' },
        remoteAddress: '192.0.2.90',
      });
      expect(register.statusCode).toBe(503);
      expect(json(register).code).toBe('service_unavailable');
      expect(await t.count('users')).toBe(users);

      const response = await login(t, uniqueUsername('closed'), 'some password', '192.0.2.91');
      expect(response.statusCode).toBe(503);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(json(response).code).toBe('service_unavailable');
      expect((await t.request({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});
