// The public limits (§7, §11, §12): per visitor (RATE_LIMIT_PUBLIC_VISITOR), per client address
// (RATE_LIMIT_PUBLIC_IP) and per chatbot (RATE_LIMIT_PUBLIC_CHATBOT). A refused request answers
// 429 with Retry-After and the RateLimit fields of the policy that refused, stores nothing and
// never reaches the model; with REDIS_URL every instance counts together.
import { randomBytes, randomInt } from 'node:crypto';
import { Redis } from 'ioredis';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, fakeLlmEnv } from '../helpers/chat.js';
import { bearer, manualClock, metricValue, registerUser, type ManualClock, type RegisteredUser } from '../helpers/factories.js';
import type { Visit } from '../helpers/public.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

// Client addresses come from the documentation ranges (RFC 5737); each test uses its own.
const SHOP = 'https://shop.example.com';
const MINUTE = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let llm: FakeLlm;
beforeAll(async () => {
  llm = await startFakeLlm();
});
afterAll(async () => {
  await llm?.close();
});
beforeEach(() => llm.reset());

/** Limits a test does not exercise: high enough never to refuse. */
const HIGH = '100000/1m';

/** A visitor's page, from one client address (and, optionally, with the visitor token). */
interface From {
  ip?: string;
  token?: string;
}

const headersOf = (from: From): Record<string, string> => ({ origin: SHOP, ...(from.token ? bearer(from.token) : {}) });

const page = (t: TestApp, chatbot: string, from: From = {}) =>
  t.request({ method: 'GET', url: `/v1/public/chatbots/${chatbot}`, headers: headersOf(from), remoteAddress: from.ip ?? '127.0.0.1' });

const visit = (t: TestApp, chatbot: string, visitorId: string, from: From = {}) =>
  t.request({
    method: 'POST',
    url: `/v1/public/chatbots/${chatbot}/conversations`,
    headers: headersOf(from),
    payload: { visitor_id: visitorId },
    remoteAddress: from.ip ?? '127.0.0.1',
  });

async function started(t: TestApp, chatbot: string, visitorId: string, from: From = {}): Promise<Visit> {
  const response = await visit(t, chatbot, visitorId, from);
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as Visit;
}

const send = (t: TestApp, v: Visit, content: string, ip = '127.0.0.1') =>
  t.request({
    method: 'POST',
    url: `/v1/public/conversations/${v.conversation_id}/messages`,
    headers: headersOf({ token: v.visitor_token }),
    payload: { content },
    remoteAddress: ip,
  });

const read = (t: TestApp, v: Visit, ip = '127.0.0.1') =>
  t.request({ method: 'GET', url: `/v1/public/conversations/${v.conversation_id}/messages`, headers: headersOf({ token: v.visitor_token }), remoteAddress: ip });

const stop = (t: TestApp, v: Visit, ip = '127.0.0.1') =>
  t.request({
    method: 'POST',
    url: `/v1/public/conversations/${v.conversation_id}/stop`,
    headers: headersOf({ token: v.visitor_token }),
    payload: {},
    remoteAddress: ip,
  });

/**
 * A 429 a page can act on: problem+json `rate_limited`, Retry-After within the window, the
 * IETF fields naming `policy`, and CORS so the page may read them.
 */
function expectLimited(response: LightMyRequestResponse, policy: string, limit: number, windowSeconds: number, what = policy): number {
  expect(response.statusCode, `${what}: ${response.body}`).toBe(429);
  expect(response.headers['content-type'], what).toMatch(/^application\/problem\+json/);
  expect(json(response), what).toMatchObject({ status: 429, code: 'rate_limited' });
  const retryAfter = String(response.headers['retry-after']);
  expect(retryAfter, what).toMatch(/^\d+$/);
  const seconds = Number(retryAfter);
  expect(seconds, what).toBeGreaterThanOrEqual(1);
  expect(seconds, what).toBeLessThanOrEqual(windowSeconds);
  expect(String(response.headers['ratelimit-policy']), what).toContain(`"${policy}";q=${limit};w=${windowSeconds}`);
  expect(String(response.headers.ratelimit), what).toContain(`"${policy}";r=0;t=`);
  expect(response.headers['access-control-allow-origin'], what).toBe(SHOP);
  expect(String(response.headers['access-control-expose-headers']).toLowerCase(), what).toContain('retry-after');
  return seconds;
}

async function stored(t: TestApp) {
  return { visitors: await t.count('visitors'), conversations: await t.count('conversations'), messages: await t.count('messages') };
}

const refusals = (t: TestApp, policy: string) => metricValue(t, 'parley_rate_limit_refusals_total', { policy });

/** One app per limit under test, on a clock the test moves. */
function limitedApp(env: Record<string, string>) {
  const ctx = {} as { t: TestApp; clock: ManualClock; owner: RegisteredUser };
  beforeAll(async () => {
    ctx.clock = manualClock(new Date('2026-11-10T12:00:00Z'));
    ctx.t = await createTestApp(
      fakeLlmEnv(llm.url, { RATE_LIMIT_PUBLIC_VISITOR: HIGH, RATE_LIMIT_PUBLIC_IP: HIGH, RATE_LIMIT_PUBLIC_CHATBOT: HIGH, ...env }),
      { clock: ctx.clock },
    );
  });
  afterAll(async () => {
    await ctx.t?.close();
  });
  beforeEach(async () => {
    ctx.owner = await registerUser(ctx.t);
  });
  return ctx;
}

const publicBot = (t: TestApp, owner: RegisteredUser, name = 'Shop assistant') => createChatbot(t, owner, { name, is_public: true, allowed_origins: [SHOP] });

describe('per visitor (RATE_LIMIT_PUBLIC_VISITOR=3/1m)', () => {
  const ctx = limitedApp({ RATE_LIMIT_PUBLIC_VISITOR: '3/1m' });

  it("refuses a visitor's 4th request with 429 public_visitor on every route, storing nothing and never calling the model; another visitor is unaffected", async () => {
    const { t, owner } = ctx;
    const bot = await publicBot(t, owner);
    const ada = await started(t, bot.slug, 'ada');
    const bob = await started(t, bot.slug, 'bob');
    expect((await send(t, ada, 'one')).statusCode).toBe(201);
    expect((await read(t, ada)).statusCode).toBe(200);
    expect((await send(t, ada, 'three')).statusCode).toBe(201);

    llm.reset();
    const before = await stored(t);
    const refusedBefore = await refusals(t, 'public_visitor');
    expectLimited(await send(t, ada, 'four'), 'public_visitor', 3, 60, 'send');
    expectLimited(await read(t, ada), 'public_visitor', 3, 60, 'read');
    expectLimited(await stop(t, ada), 'public_visitor', 3, 60, 'stop');
    // Another conversation for the same visitor (their token) is the same visitor.
    expectLimited(await visit(t, bot.slug, 'ada', { token: ada.visitor_token }), 'public_visitor', 3, 60, 'another conversation');
    expect(await stored(t)).toEqual(before);
    expect(llm.requests).toHaveLength(0);
    expect(await refusals(t, 'public_visitor')).toBe(refusedBefore + 4);

    // Same address, same chatbot, another visitor: still served.
    const fromBob = await send(t, bob, 'hello');
    expect(fromBob.statusCode, fromBob.body).toBe(201);
    expect(json(fromBob).reply.content).toBe('You said: hello');
  });

  it('holds a returning visitor who changes visitor_id: the label is not who they are', async () => {
    const { t, owner } = ctx;
    const bot = await publicBot(t, owner);
    const first = await started(t, bot.slug, 'label-0');
    for (let i = 1; i <= 3; i++) expect((await visit(t, bot.slug, `label-${i}`, { token: first.visitor_token })).statusCode).toBe(201);
    const before = await stored(t);
    expectLimited(await visit(t, bot.slug, 'label-4', { token: first.visitor_token }), 'public_visitor', 3, 60);
    expect(await stored(t)).toEqual(before);
  });

  it('lets the visitor in again once the window has passed, and Retry-After says when', async () => {
    const { t, owner, clock } = ctx;
    const bot = await publicBot(t, owner);
    const cleo = await started(t, bot.slug, 'cleo');
    for (let i = 0; i < 3; i++) expect((await read(t, cleo)).statusCode).toBe(200);
    clock.advance(20_000);
    const wait = expectLimited(await send(t, cleo, 'too soon'), 'public_visitor', 3, 60);
    expect(wait).toBe(40);
    clock.advance(wait * 1000 - 1000);
    expectLimited(await read(t, cleo), 'public_visitor', 3, 60, 'a second before the end');
    clock.advance(1000);
    const again = await send(t, cleo, 'back again');
    expect(again.statusCode, again.body).toBe(201);
    expect(llm.requests).toHaveLength(1);
  });
});

describe('per client address (RATE_LIMIT_PUBLIC_IP=5/1m)', () => {
  const ctx = limitedApp({ RATE_LIMIT_PUBLIC_IP: '5/1m' });

  it('holds a flood of new visitors from one address, each with its own visitor_id and no token, while another address gets in', async () => {
    const { t, owner } = ctx;
    const bot = await publicBot(t, owner);
    const flooder = '192.0.2.10';
    for (let i = 0; i < 5; i++) expect((await visit(t, bot.slug, `bot-${i}`, { ip: flooder })).statusCode).toBe(201);
    const before = await stored(t);
    for (let i = 5; i < 15; i++) expectLimited(await visit(t, bot.slug, `bot-${i}`, { ip: flooder }), 'public_ip', 5, 60, `new visitor ${i}`);
    // The page and the visitors it started are held at that address too.
    expectLimited(await page(t, bot.slug, { ip: flooder }), 'public_ip', 5, 60, 'page');
    expect(await stored(t)).toEqual(before);

    const neighbour = await visit(t, bot.slug, 'neighbour', { ip: '198.51.100.20' });
    expect(neighbour.statusCode, neighbour.body).toBe(201);
    expect((await page(t, bot.slug, { ip: '198.51.100.20' })).statusCode).toBe(200);
  });

  it('is not fooled by a forged X-Forwarded-For (TRUST_PROXY is off)', async () => {
    const { t, owner } = ctx;
    const bot = await publicBot(t, owner);
    const flooder = '192.0.2.11';
    for (let i = 0; i < 5; i++) expect((await page(t, bot.slug, { ip: flooder })).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) {
      const forged = await t.request({
        method: 'POST',
        url: `/v1/public/chatbots/${bot.slug}/conversations`,
        headers: { origin: SHOP, 'x-forwarded-for': `203.0.113.${i + 1}`, 'x-real-ip': `203.0.113.${i + 1}` },
        payload: { visitor_id: `forged-${i}` },
        remoteAddress: flooder,
      });
      expectLimited(forged, 'public_ip', 5, 60, `forged address ${i}`);
    }
  });

  it("counts a visitor's messages at their address: one address talking through many conversations is held", async () => {
    const { t, owner } = ctx;
    const bot = await publicBot(t, owner);
    const ip = '192.0.2.12';
    const a = await started(t, bot.slug, 'a', { ip });
    const b = await started(t, bot.slug, 'b', { ip });
    expect((await send(t, a, 'one', ip)).statusCode).toBe(201);
    expect((await send(t, b, 'two', ip)).statusCode).toBe(201);
    expect((await read(t, a, ip)).statusCode).toBe(200);
    llm.reset();
    const before = await stored(t);
    expectLimited(await send(t, b, 'three', ip), 'public_ip', 5, 60);
    expect(await stored(t)).toEqual(before);
    expect(llm.requests).toHaveLength(0);
    // The same visitor from another address (a phone leaving Wi-Fi) is still served.
    expect((await send(t, b, 'from the phone', '198.51.100.21')).statusCode).toBe(201);
  });

  it('lets the address in again once the window has passed', async () => {
    const { t, owner, clock } = ctx;
    const bot = await publicBot(t, owner);
    const ip = '192.0.2.13';
    for (let i = 0; i < 5; i++) expect((await page(t, bot.slug, { ip })).statusCode).toBe(200);
    expectLimited(await visit(t, bot.slug, 'late', { ip }), 'public_ip', 5, 60);
    clock.advance(MINUTE);
    expect((await visit(t, bot.slug, 'late', { ip })).statusCode).toBe(201);
  });
});

describe('per chatbot (RATE_LIMIT_PUBLIC_CHATBOT=4/1m)', () => {
  const ctx = limitedApp({ RATE_LIMIT_PUBLIC_CHATBOT: '4/1m' });

  it('caps all traffic to one chatbot across addresses and visitors; another chatbot is unaffected', async () => {
    const { t, owner } = ctx;
    const bot = await publicBot(t, owner);
    const other = await publicBot(t, owner, 'Other shop');
    const first = await started(t, bot.slug, 'v1', { ip: '192.0.2.30' });
    expect((await page(t, bot.slug, { ip: '192.0.2.31' })).statusCode).toBe(200);
    expect((await send(t, first, 'hello', '192.0.2.32')).statusCode).toBe(201);
    expect((await visit(t, bot.slug, 'v2', { ip: '192.0.2.33' })).statusCode).toBe(201);

    llm.reset();
    const before = await stored(t);
    expectLimited(await page(t, bot.slug, { ip: '192.0.2.34' }), 'public_chatbot', 4, 60, 'page from a fresh address');
    expectLimited(await visit(t, bot.slug, 'v3', { ip: '192.0.2.35' }), 'public_chatbot', 4, 60, 'new visitor from a fresh address');
    expectLimited(await send(t, first, 'again', '192.0.2.36'), 'public_chatbot', 4, 60, 'known visitor');
    expect(await stored(t)).toEqual(before);
    expect(llm.requests).toHaveLength(0);

    // The other chatbot, from the very same addresses.
    const elsewhere = await started(t, other.slug, 'v1', { ip: '192.0.2.30' });
    expect((await send(t, elsewhere, 'hello', '192.0.2.32')).statusCode).toBe(201);
    expect((await page(t, other.slug, { ip: '192.0.2.34' })).statusCode).toBe(200);
  });

  it('does not count requests refused for their origin', async () => {
    const { t, owner } = ctx;
    const bot = await publicBot(t, owner);
    for (let i = 0; i < 10; i++) {
      const foreign = await t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}`, headers: { origin: 'https://evil.example' }, remoteAddress: `192.0.2.${40 + i}` });
      expect(foreign.statusCode).toBe(403);
    }
    for (let i = 0; i < 4; i++) expect((await page(t, bot.slug, { ip: `198.51.100.${40 + i}` })).statusCode).toBe(200);
    expectLimited(await page(t, bot.slug, { ip: '198.51.100.50' }), 'public_chatbot', 4, 60);
  });

  it('serves the chatbot again once the window has passed', async () => {
    const { t, owner, clock } = ctx;
    const bot = await publicBot(t, owner);
    for (let i = 0; i < 4; i++) expect((await page(t, bot.slug, { ip: `192.0.2.${60 + i}` })).statusCode).toBe(200);
    expectLimited(await page(t, bot.slug, { ip: '192.0.2.70' }), 'public_chatbot', 4, 60);
    clock.advance(MINUTE);
    expect((await visit(t, bot.slug, 'after', { ip: '192.0.2.70' })).statusCode).toBe(201);
  });
});

describe("one caller held by its own limit does not spend the chatbot's budget (IP 3/1m, visitor 3/1m, chatbot 10/1m)", () => {
  const ctx = limitedApp({ RATE_LIMIT_PUBLIC_IP: '3/1m', RATE_LIMIT_PUBLIC_VISITOR: '3/1m', RATE_LIMIT_PUBLIC_CHATBOT: '10/1m' });

  it('a single address flooding (held by public_ip) does not lock every other visitor out of the chatbot', async () => {
    const { t, owner } = ctx;
    const bot = await publicBot(t, owner);
    const flooder = '192.0.2.80';
    let admitted = 0;
    for (let i = 0; i < 30; i++) if ((await visit(t, bot.slug, `flood-${i}`, { ip: flooder })).statusCode === 201) admitted++;
    expect(admitted).toBe(3);
    // The IP limit held the flood; a real visitor from elsewhere must still get in.
    const visitor = await visit(t, bot.slug, 'real-customer', { ip: '198.51.100.80' });
    expect(visitor.statusCode, `a visitor from another address after one address was held by public_ip: ${String(visitor.headers['ratelimit-policy'])} ${visitor.body}`).toBe(201);
  });

  it('a single visitor hammering past public_visitor (from many addresses) does not lock every other visitor out of the chatbot', async () => {
    const { t, owner } = ctx;
    const bot = await publicBot(t, owner);
    const noisy = await started(t, bot.slug, 'noisy', { ip: '192.0.2.90' });
    let served = 0;
    for (let i = 0; i < 30; i++) if ((await read(t, noisy, `192.0.2.${100 + i}`)).statusCode === 200) served++;
    expect(served).toBe(3);
    const visitor = await visit(t, bot.slug, 'real-customer', { ip: '198.51.100.90' });
    expect(visitor.statusCode, `a visitor after another visitor was held by public_visitor: ${String(visitor.headers['ratelimit-policy'])} ${visitor.body}`).toBe(201);
  });
});

describe('several limits refusing at once (IP 3/1m, visitor 2/1h)', () => {
  const ctx = limitedApp({ RATE_LIMIT_PUBLIC_IP: '3/1m', RATE_LIMIT_PUBLIC_VISITOR: '2/1h' });

  it('Retry-After is the longest wait, so a page that waits what it says is let in', async () => {
    const { t, owner, clock } = ctx;
    const bot = await publicBot(t, owner);
    const ip = '192.0.2.120';
    const v = await started(t, bot.slug, 'patient', { ip });
    expect((await read(t, v, ip)).statusCode).toBe(200);
    expect((await read(t, v, ip)).statusCode).toBe(200);
    // Now both the address (4 > 3) and the visitor (3 > 2) are over their limits.
    const refused = await read(t, v, ip);
    expect(refused.statusCode).toBe(429);
    const wait = Number(refused.headers['retry-after']);
    clock.advance(wait * 1000);
    const retried = await read(t, v, ip);
    expect(
      retried.statusCode,
      `waited Retry-After (${wait} s, ${String(refused.headers['ratelimit-policy'])}) and asked again: ${String(retried.headers['ratelimit-policy'])} ${retried.body}`,
    ).toBe(200);
  });
});

describe('limits kept in Redis, shared by two instances', () => {
  const redisUrl = process.env.TEST_REDIS_URL;
  // Without TEST_REDIS_URL these are skipped with their reason, except in CI where a skip is a failure.
  const skipRedis = !redisUrl && process.env.CI !== 'true';
  const skipReason = skipRedis ? ' (skipped: set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379, to run)' : '';
  /** Keys the tests leave in Redis (their windows lapse anyway; this keeps a shared Redis tidy). */
  const usedKeys: string[] = [];
  const secret = randomBytes(48).toString('base64url');

  afterAll(async () => {
    if (!redisUrl || usedKeys.length === 0) return;
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      await redis.del(...usedKeys.map((key) => `parley:rl:${key}`));
    } finally {
      redis.disconnect();
    }
  });

  /** Two instances on one database and one Redis, as behind a load balancer. */
  async function pair(env: Record<string, string>) {
    if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
    const full = fakeLlmEnv(llm.url, {
      REDIS_URL: redisUrl,
      REDIS_FAILURE_MODE: 'closed',
      JWT_SECRET: secret,
      RATE_LIMIT_PUBLIC_VISITOR: HIGH,
      RATE_LIMIT_PUBLIC_IP: HIGH,
      RATE_LIMIT_PUBLIC_CHATBOT: HIGH,
      ...env,
    });
    const one = await createTestApp(full);
    const two = await createTestApp(full, { sharedWith: one });
    return { one, two, close: async () => (await two.close(), await one.close()) };
  }

  /** An address no earlier run has used in the last minutes (TEST-NET-2/3 plus benchmark range). */
  const freshIp = () => `198.18.${randomInt(0, 256)}.${randomInt(1, 255)}`;

  async function remember(t: TestApp, chatbotId: string, ips: string[]) {
    usedKeys.push(`public_chatbot:${chatbotId}`, ...ips.map((ip) => `public_ip:${ip}`));
    const visitors = await t.database.sql.query<{ id: string }>('SELECT id FROM visitors WHERE chatbot_id = $1', [chatbotId]);
    usedKeys.push(...visitors.map((row) => `public_visitor:${row.id}`));
  }

  it.skipIf(skipRedis)(
    `count one visitor's requests on both instances together, and let them in again after the window${skipReason}`,
    async () => {
      const { one, two, close } = await pair({ RATE_LIMIT_PUBLIC_VISITOR: '3/2s' });
      try {
        const owner = await registerUser(one);
        const bot = await publicBot(one, owner);
        const ip = freshIp();
        const v = await started(one, bot.slug, `redis-${randomBytes(4).toString('hex')}`, { ip });
        const other = await started(two, bot.slug, `redis-${randomBytes(4).toString('hex')}`, { ip });
        await remember(one, bot.id, [ip]);
        // Reads alternate between the instances: 3 in all.
        expect((await read(two, v, ip)).statusCode).toBe(200);
        expect((await read(one, v, ip)).statusCode).toBe(200);
        expect((await read(two, v, ip)).statusCode).toBe(200);
        llm.reset();
        const before = await stored(one);
        expectLimited(await send(one, v, 'over on one', ip), 'public_visitor', 3, 2, 'on instance one');
        expectLimited(await send(two, v, 'over on two', ip), 'public_visitor', 3, 2, 'on instance two');
        expect(await stored(one)).toEqual(before);
        expect(llm.requests).toHaveLength(0);
        expect((await read(one, other, ip)).statusCode).toBe(200);

        // Redis keeps the window's time itself: this one wait is real.
        await sleep(2200);
        expect((await send(two, v, 'back', ip)).statusCode).toBe(201);
      } finally {
        await close();
      }
    },
    60_000,
  );

  it.skipIf(skipRedis)(
    `count one address's new visitors and one chatbot's traffic on both instances together${skipReason}`,
    async () => {
      const { one, two, close } = await pair({ RATE_LIMIT_PUBLIC_IP: '4/1m', RATE_LIMIT_PUBLIC_CHATBOT: '6/1m' });
      try {
        const owner = await registerUser(one);
        const bot = await publicBot(one, owner);
        const other = await publicBot(one, owner, 'Other shop');
        const flooder = freshIp();
        const addresses = Array.from({ length: 4 }, () => freshIp());
        usedKeys.push(`public_chatbot:${other.id}`);
        // A flood of new visitors from one address, alternating between the instances.
        for (let i = 0; i < 4; i++) expect((await visit(i % 2 ? two : one, bot.slug, `flood-${i}`, { ip: flooder })).statusCode).toBe(201);
        const before = await stored(one);
        expectLimited(await visit(one, bot.slug, 'flood-4', { ip: flooder }), 'public_ip', 4, 60, 'address on one');
        expectLimited(await visit(two, bot.slug, 'flood-5', { ip: flooder }), 'public_ip', 4, 60, 'address on two');
        expect(await stored(one)).toEqual(before);

        // Every request to one chatbot, from fresh addresses, alternating between the instances.
        const capped = await publicBot(one, owner, 'Busy shop');
        usedKeys.push(`public_chatbot:${capped.id}`);
        for (const [i, ip] of addresses.entries()) expect((await page(i % 2 ? one : two, capped.slug, { ip })).statusCode).toBe(200);
        const newcomer = await visit(one, capped.slug, 'newcomer', { ip: addresses[0] });
        expect(newcomer.statusCode, newcomer.body).toBe(201);
        expect((await visit(two, capped.slug, 'newcomer-2', { ip: addresses[1] })).statusCode).toBe(201);
        expectLimited(await page(one, capped.slug, { ip: addresses[2] }), 'public_chatbot', 6, 60, 'chatbot on one');
        expectLimited(await page(two, capped.slug, { ip: addresses[3] }), 'public_chatbot', 6, 60, 'chatbot on two');
        // Another chatbot, from those same addresses, on both.
        expect((await page(one, other.slug, { ip: addresses[2] })).statusCode).toBe(200);
        expect((await page(two, other.slug, { ip: addresses[3] })).statusCode).toBe(200);
        await remember(one, bot.id, [flooder, ...addresses]);
        await remember(one, capped.id, []);
      } finally {
        await close();
      }
    },
    60_000,
  );
});
