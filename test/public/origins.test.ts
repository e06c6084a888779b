// Per-chatbot origins on the public routes (§7, §12 "Origins"): a chatbot's `allowed_origins`
// decides which pages may call its public routes, and the CORS answer is that chatbot's alone;
// a request from another origin, or with none while the list is non-empty, is refused with 403
// `origin_not_allowed` and no CORS headers, before anything is stored or the model is called.
// The rest of the API keeps following CORS_ORIGINS.
import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, parseSse } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, startVisitRaw, visitorMessages, visitorSend, type Visit } from '../helpers/public.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

const SHOP = 'https://shop.example.com';
/** The API's own front end (CORS_ORIGINS): it opens the API, not the chatbots' public routes. */
const APP = 'https://app.example.com';
/** Near misses of SHOP: origins are compared exactly, as browsers serialise them. */
const NEAR_MISSES = [
  'https://shop.example.com.evil.com',
  'http://shop.example.com',
  'https://shop.example.com/',
  'https://shop.example.com:8443',
  'https://evil.shop.example.com',
  'null',
  APP,
];

let t: TestApp;
let llm: FakeLlm;
let owner: RegisteredUser;

beforeAll(async () => {
  llm = await startFakeLlm();
  t = await createTestApp(
    fakeLlmEnv(llm.url, {
      CORS_ORIGINS: APP,
      RATE_LIMIT_PUBLIC_IP: '100000/1m',
      RATE_LIMIT_PUBLIC_VISITOR: '100000/1m',
      RATE_LIMIT_PUBLIC_CHATBOT: '100000/1m',
    }),
  );
});
afterAll(async () => {
  await t?.close();
  await llm?.close();
});
beforeEach(async () => {
  llm.reset();
  owner = await registerUser(t);
});

const publicBot = (extra: Record<string, unknown> = {}) => createChatbot(t, owner, { name: 'Shop assistant', is_public: true, ...extra });

const withOrigin = (origin: string | undefined): Record<string, string> => (origin === undefined ? {} : { origin });

/** Every header a browser reads for CORS. */
const corsHeaders = (response: LightMyRequestResponse) => Object.keys(response.headers).filter((name) => name.toLowerCase().startsWith('access-control-'));

async function stored() {
  return { visitors: await t.count('visitors'), conversations: await t.count('conversations'), messages: await t.count('messages') };
}

interface PublicCall {
  name: string;
  call(origin: string | undefined): Promise<LightMyRequestResponse>;
}

/**
 * Every public route a visitor's page calls, for one chatbot and one started visit (the visit
 * was started from an origin the chatbot accepted at the time).
 */
function publicCalls(bot: { slug: string }, visit: Visit): PublicCall[] {
  return [
    { name: 'GET page', call: (origin) => t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}`, headers: withOrigin(origin) }) },
    { name: 'POST conversations', call: (origin) => startVisitRaw(t, bot.slug, { visitor_id: 'page-visitor' }, withOrigin(origin)) },
    {
      name: 'POST conversations (returning visitor)',
      call: (origin) => startVisitRaw(t, bot.slug, { visitor_id: 'page-visitor' }, { ...bearer(visit.visitor_token), ...withOrigin(origin) }),
    },
    { name: 'POST messages', call: (origin) => visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Hello from the page' }, withOrigin(origin)) },
    { name: 'GET messages', call: (origin) => visitorMessages(t, visit.visitor_token, visit.conversation_id, withOrigin(origin)) },
    {
      name: 'POST stop',
      call: (origin) =>
        t.request({
          method: 'POST',
          url: `/v1/public/conversations/${visit.conversation_id}/stop`,
          headers: { ...bearer(visit.visitor_token), ...withOrigin(origin) },
          payload: {},
        }),
    },
  ];
}

/** A browser's preflight before a POST with a token and a JSON body. */
function preflight(url: string, origin: string | undefined) {
  return t.request({
    method: 'OPTIONS',
    url,
    headers: { ...withOrigin(origin), 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });
}

function preflightUrls(bot: { slug: string; id: string }, conversationId: string) {
  return [
    `/v1/public/chatbots/${bot.slug}`,
    `/v1/public/chatbots/${bot.id}`,
    `/v1/public/chatbots/${bot.slug}/conversations`,
    `/v1/public/chatbots/${bot.id}/conversations`,
    `/v1/public/conversations/${conversationId}/messages`,
    `/v1/public/conversations/${conversationId}/stop`,
  ];
}

function expectAllowedPreflight(response: LightMyRequestResponse, origin: string, what: string) {
  expect(response.statusCode, `${what}: ${response.body}`).toBe(204);
  expect(response.headers['access-control-allow-origin'], what).toBe(origin);
  const methods = String(response.headers['access-control-allow-methods'] ?? '');
  expect(methods, what).toMatch(/\bPOST\b/);
  const headers = String(response.headers['access-control-allow-headers'] ?? '').toLowerCase();
  expect(headers, what).toMatch(/\bauthorization\b/);
  expect(headers, what).toMatch(/\bcontent-type\b/);
  expect(Number(response.headers['access-control-max-age']), what).toBeGreaterThan(0);
  expect(String(response.headers.vary ?? ''), what).toMatch(/\bOrigin\b/i);
}

function expectOriginRefused(response: LightMyRequestResponse, what: string, readableBy?: string) {
  expect(response.statusCode, `${what}: ${response.body}`).toBe(403);
  expect(response.headers['content-type'], what).toMatch(/^application\/problem\+json/);
  expect(json(response), what).toMatchObject({ status: 403, code: 'origin_not_allowed' });
  // The chatbot's page, the widget's first request, lets the refused page read why (so the widget
  // can say the site is not allowed); every other refusal stays unreadable to it.
  expect(corsHeaders(response), what).toEqual(readableBy ? ['access-control-allow-origin'] : []);
  if (readableBy) expect(response.headers['access-control-allow-origin'], what).toBe(readableBy);
}

/** A refused public call: the page (GET) readable by the origin that asked, the rest not at all. */
const expectCallRefused = (name: string, response: LightMyRequestResponse, origin: string | undefined, what: string) =>
  expectOriginRefused(response, what, name === 'GET page' ? origin : undefined);

describe('a chatbot with no allowed_origins', () => {
  it('answers every public route from any origin, or with none, and lets the page read the answer', async () => {
    const bot = await publicBot();
    const visit = await startVisit(t, bot.slug, { visitorId: 'anyone' });
    for (const origin of ['https://anything.example', 'http://localhost:3000', APP, 'null', undefined]) {
      for (const { name, call } of publicCalls(bot, visit)) {
        const what = `${name} from ${origin ?? '(no Origin)'}`;
        const response = await call(origin);
        expect(response.statusCode, `${what}: ${response.body}`).toBeLessThan(300);
        // Answers differ by origin, so shared caches must keep them apart.
        expect(String(response.headers.vary ?? ''), what).toMatch(/\bOrigin\b/i);
        if (origin === undefined) {
          expect(response.headers['access-control-allow-origin'], what).toBeUndefined();
        } else {
          expect(response.headers['access-control-allow-origin'], what).toBe(origin);
          expect(String(response.headers['access-control-expose-headers'] ?? '').toLowerCase(), what).toContain('x-request-id');
        }
      }
    }
    // Every send reached the model: five origins, one send each.
    expect(llm.requests).toHaveLength(5);
  });

  it('answers preflights from any origin', async () => {
    const bot = await publicBot();
    const visit = await startVisit(t, bot.slug);
    for (const origin of ['https://anything.example', APP, 'null']) {
      for (const url of preflightUrls(bot, visit.conversation_id)) expectAllowedPreflight(await preflight(url, origin), origin, `${url} from ${origin}`);
    }
  });
});

describe('a chatbot that lists its origins', () => {
  it('serves the listed origin on every public route: page, new and returning visit, send, read and stop', async () => {
    const bot = await publicBot({ allowed_origins: ['https://other.example.org', SHOP] });
    const visit = await startVisit(t, bot.slug, { origin: SHOP });
    for (const { name, call } of publicCalls(bot, visit)) {
      const response = await call(SHOP);
      expect(response.statusCode, `${name}: ${response.body}`).toBeLessThan(300);
      expect(response.headers['access-control-allow-origin'], name).toBe(SHOP);
      const exposed = String(response.headers['access-control-expose-headers'] ?? '').toLowerCase();
      for (const header of ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy']) expect(exposed, name).toContain(header);
      expect(String(response.headers.vary ?? ''), name).toMatch(/\bOrigin\b/i);
      // Never a wildcard nor credentials: the page reads its answer and nothing more.
      expect(response.headers['access-control-allow-credentials'], name).toBeUndefined();
    }
    expect(llm.requests).toHaveLength(1);
    // The other listed origin is just as welcome.
    const other = await visitorMessages(t, visit.visitor_token, visit.conversation_id, { origin: 'https://other.example.org' });
    expect(other.statusCode).toBe(200);
    expect(other.headers['access-control-allow-origin']).toBe('https://other.example.org');
  });

  it('lets the page read a streamed reply too: the event stream carries the CORS headers', async () => {
    const bot = await publicBot({ allowed_origins: [SHOP] });
    const visit = await startVisit(t, bot.slug, { origin: SHOP });
    const streamed = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Stream it', stream: true }, { origin: SHOP });
    expect(streamed.statusCode, streamed.body).toBe(200);
    expect(streamed.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(streamed.headers['access-control-allow-origin']).toBe(SHOP);
    expect(String(streamed.headers['access-control-expose-headers'] ?? '').toLowerCase()).toContain('x-request-id');
    expect(parseSse(streamed.body).at(-1)?.event).toBe('message.end');
  });

  it('refuses a foreign origin and a missing Origin on every route with 403 origin_not_allowed and no CORS headers, storing nothing and never calling the model', async () => {
    const bot = await publicBot({ allowed_origins: [SHOP] });
    const visit = await startVisit(t, bot.slug, { origin: SHOP });
    expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'first' }, { origin: SHOP })).statusCode).toBe(201);
    llm.reset();
    const before = await stored();
    for (const origin of [undefined, 'https://evil.example']) {
      for (const { name, call } of publicCalls(bot, visit)) expectCallRefused(name, await call(origin), origin, `${name} from ${origin ?? '(no Origin)'}`);
    }
    // A streamed send is refused the same way, before any stream starts.
    const streamed = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Stream it', stream: true }, { origin: 'https://evil.example' });
    expectOriginRefused(streamed, 'streamed POST messages from a foreign origin');
    expect(await stored()).toEqual(before);
    expect(llm.requests).toHaveLength(0);
    // The page still holds its conversation: nothing was added to it.
    const history = await visitorMessages(t, visit.visitor_token, visit.conversation_id, { origin: SHOP });
    expect(json(history).data.map((m: { content: string }) => m.content)).toEqual(['first', 'You said: first']);
  });

  it('compares origins exactly: a longer host, another scheme, a trailing slash, another port, a subdomain and "null" are all refused', async () => {
    const bot = await publicBot({ allowed_origins: [SHOP] });
    const visit = await startVisit(t, bot.slug, { origin: SHOP });
    const before = await stored();
    for (const origin of NEAR_MISSES) {
      for (const { name, call } of publicCalls(bot, visit)) expectCallRefused(name, await call(origin), origin, `${name} from ${origin}`);
      for (const url of preflightUrls(bot, visit.conversation_id)) expectOriginRefused(await preflight(url, origin), `preflight ${url} from ${origin}`);
    }
    expect(await stored()).toEqual(before);
    expect(llm.requests).toHaveLength(0);
  });

  it('gives a malformed request from a foreign origin no CORS headers and stores nothing', async () => {
    const bot = await publicBot({ allowed_origins: [SHOP] });
    const before = await stored();
    // Bodies a browser on a foreign page might send: the origin decides first, so the page learns nothing.
    const refused = await startVisitRaw(t, bot.slug, { visitor_id: 'v', unknown_field: true }, { origin: 'https://evil.example' });
    expect(corsHeaders(refused)).toEqual([]);
    expect([403, 422]).toContain(refused.statusCode);
    expect(await stored()).toEqual(before);
  });
});

describe('preflights, per chatbot', () => {
  it('answer 204 with what the page may send for an allowed origin, and 403 without CORS headers for a foreign or missing one', async () => {
    const bot = await publicBot({ allowed_origins: [SHOP] });
    const visit = await startVisit(t, bot.slug, { origin: SHOP });
    for (const url of preflightUrls(bot, visit.conversation_id)) {
      expectAllowedPreflight(await preflight(url, SHOP), SHOP, `preflight ${url}`);
      expectOriginRefused(await preflight(url, 'https://evil.example'), `preflight ${url} from a foreign origin`);
      expectOriginRefused(await preflight(url, undefined), `preflight ${url} without Origin`);
    }
  });

  it("on a conversation route, follow that conversation's chatbot", async () => {
    const shopBot = await publicBot({ allowed_origins: [SHOP] });
    const blogBot = await publicBot({ name: 'Blog helper', allowed_origins: ['https://blog.example.net'] });
    const atShop = await startVisit(t, shopBot.slug, { origin: SHOP });
    const atBlog = await startVisit(t, blogBot.slug, { origin: 'https://blog.example.net' });
    for (const path of ['messages', 'stop']) {
      expectAllowedPreflight(await preflight(`/v1/public/conversations/${atShop.conversation_id}/${path}`, SHOP), SHOP, `shop ${path}`);
      expectOriginRefused(await preflight(`/v1/public/conversations/${atShop.conversation_id}/${path}`, 'https://blog.example.net'), `shop ${path} from blog`);
      expectAllowedPreflight(
        await preflight(`/v1/public/conversations/${atBlog.conversation_id}/${path}`, 'https://blog.example.net'),
        'https://blog.example.net',
        `blog ${path}`,
      );
      expectOriginRefused(await preflight(`/v1/public/conversations/${atBlog.conversation_id}/${path}`, SHOP), `blog ${path} from shop`);
    }
  });

  it('answer 404 for a private or unknown chatbot', async () => {
    const privateBot = await createChatbot(t, owner, { name: 'Private one' });
    for (const url of [`/v1/public/chatbots/${privateBot.slug}`, `/v1/public/chatbots/${privateBot.id}/conversations`, '/v1/public/chatbots/no-such-chatbot/conversations']) {
      const response = await preflight(url, SHOP);
      expect(response.statusCode, `${url}: ${response.body}`).toBe(404);
      expect(json(response).code, url).toBe('not_found');
      expect(response.headers['access-control-allow-methods'], url).toBeUndefined();
    }
  });

  // A conversation gone (erased; the server restarted since) is what a returning visitor's widget
  // asks for: a failed preflight looks like the network to it, retried for ever, where a 404 it
  // can read starts it afresh. Letting the request through shows nothing: it is refused on its own.
  it("let an unknown conversation's request through, to a 404 the page can read: unknown, not a visitor's, not a uuid", async () => {
    const bot = await publicBot({ allowed_origins: [SHOP] });
    const visit = await startVisit(t, bot.slug, { origin: SHOP });
    const own = await createConversation(t, owner, { chatbot_id: bot.id });
    for (const id of [randomUUID(), own.id, 'not-a-uuid']) {
      for (const url of [`/v1/public/conversations/${id}/messages`, `/v1/public/conversations/${id}/stop`]) {
        const response = await preflight(url, SHOP);
        expect(response.statusCode, `${url}: ${response.body}`).toBe(204);
        expect(response.headers['access-control-allow-origin'], url).toBe(SHOP);
      }
      const sent = await visitorSend(t, visit.visitor_token, id, { content: 'Anyone?' }, { origin: SHOP });
      expect(sent.statusCode, sent.body).toBe(404);
      expect(sent.headers['access-control-allow-origin']).toBe(SHOP);
    }
  });

  it('let the page read a refused visitor token (401), so the widget can start a new visit', async () => {
    const bot = await publicBot({ allowed_origins: [SHOP] });
    const visit = await startVisit(t, bot.slug, { origin: SHOP });
    for (const token of [visit.visitor_token.slice(0, -4) + 'AAAA', 'not-a-token']) {
      const sent = await visitorSend(t, token, visit.conversation_id, { content: 'Hello?' }, { origin: SHOP });
      expect(sent.statusCode).toBe(401);
      expect(json(sent).code).toBe('invalid_token');
      expect(sent.headers['access-control-allow-origin']).toBe(SHOP);
    }
    expect(llm.requests).toHaveLength(0);
  });
});

describe('the rest of the API', () => {
  it('follows CORS_ORIGINS: its origin gets CORS on /v1/chatbots, and a chatbot\'s allowed origin does not', async () => {
    await publicBot({ allowed_origins: [SHOP] });
    const fromApp = await preflight('/v1/chatbots', APP);
    expect(fromApp.statusCode).toBeLessThan(300);
    expect(fromApp.headers['access-control-allow-origin']).toBe(APP);
    const listed = await t.request({ method: 'GET', url: '/v1/chatbots', headers: { ...bearer(owner.accessToken), origin: APP } });
    expect(listed.statusCode).toBe(200);
    expect(listed.headers['access-control-allow-origin']).toBe(APP);

    for (const origin of [SHOP, 'https://evil.example']) {
      const asked = await preflight('/v1/chatbots', origin);
      expect(asked.headers['access-control-allow-origin'], origin).toBeUndefined();
      const read = await t.request({ method: 'GET', url: '/v1/chatbots', headers: { ...bearer(owner.accessToken), origin } });
      expect(read.headers['access-control-allow-origin'], origin).toBeUndefined();
    }
  });

  it("does not open a chatbot's public routes to CORS_ORIGINS", async () => {
    const bot = await publicBot({ allowed_origins: [SHOP] });
    expectOriginRefused(await t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}`, headers: { origin: APP } }), 'page from CORS_ORIGINS', APP);
    expectOriginRefused(await preflight(`/v1/public/chatbots/${bot.slug}/conversations`, APP), 'preflight from CORS_ORIGINS');
  });
});

describe('changing allowed_origins', () => {
  it('takes effect on the next request: the old origin is refused and the new one served, on every route and preflight', async () => {
    const bot = await publicBot();
    const visit = await startVisit(t, bot.slug, { origin: 'https://old.example' });
    // Warm whatever this instance keeps about the chatbot (by slug, by id, by conversation).
    for (const { name, call } of publicCalls(bot, visit)) expect((await call('https://old.example')).statusCode, name).toBeLessThan(300);
    for (const url of preflightUrls(bot, visit.conversation_id)) expect((await preflight(url, 'https://old.example')).statusCode, url).toBe(204);

    const patch = (allowed: string[]) => t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { allowed_origins: allowed } });
    const changed = await patch([SHOP]);
    expect(changed.statusCode, changed.body).toBe(200);
    expect(json(changed).allowed_origins).toEqual([SHOP]);

    llm.reset();
    const before = await stored();
    for (const { name, call } of publicCalls(bot, visit)) {
      expectCallRefused(name, await call('https://old.example'), 'https://old.example', `${name} from the old origin`);
      expectCallRefused(name, await call(undefined), undefined, `${name} without Origin`);
    }
    for (const url of preflightUrls(bot, visit.conversation_id)) expectOriginRefused(await preflight(url, 'https://old.example'), `preflight ${url}`);
    expect(await stored()).toEqual(before);
    expect(llm.requests).toHaveLength(0);
    for (const { name, call } of publicCalls(bot, visit)) {
      const response = await call(SHOP);
      expect(response.statusCode, `${name}: ${response.body}`).toBeLessThan(300);
      expect(response.headers['access-control-allow-origin'], name).toBe(SHOP);
    }
    for (const url of preflightUrls(bot, visit.conversation_id)) expectAllowedPreflight(await preflight(url, SHOP), SHOP, url);

    // Emptied again: any origin, or none.
    expect((await patch([])).statusCode).toBe(200);
    for (const { name, call } of publicCalls(bot, visit)) {
      expect((await call('https://old.example')).statusCode, name).toBeLessThan(300);
      expect((await call(undefined)).statusCode, name).toBeLessThan(300);
    }
  });

  it('follows a changed slug: the new slug answers with the chatbot\'s origins at once', async () => {
    const bot = await publicBot({ allowed_origins: [SHOP] });
    expect((await t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}`, headers: { origin: SHOP } })).statusCode).toBe(200);
    const slug = `shop-${randomUUID().slice(0, 8)}`;
    const changed = await t.request({
      method: 'PATCH',
      url: `/v1/chatbots/${bot.id}`,
      headers: bearer(owner.accessToken),
      payload: { slug, allowed_origins: ['https://new-shop.example'] },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect((await t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}`, headers: { origin: SHOP } })).statusCode).toBe(404);
    expectOriginRefused(await t.request({ method: 'GET', url: `/v1/public/chatbots/${slug}`, headers: { origin: SHOP } }), 'new slug from the old origin', SHOP);
    const served = await t.request({ method: 'GET', url: `/v1/public/chatbots/${slug}`, headers: { origin: 'https://new-shop.example' } });
    expect(served.statusCode).toBe(200);
    expect(served.headers['access-control-allow-origin']).toBe('https://new-shop.example');
  });

  it('refuses what is not an origin (a path, a trailing slash, no scheme, a host no browser sends) with 422, changing nothing', async () => {
    const bot = await publicBot({ allowed_origins: [SHOP] });
    // URL's parser keeps `,;'"` in a host, but no site's address holds them, and the hosted page's
    // frame-ancestors policy is written from these entries: `;` would start a directive of its own.
    const hosts = ['https://shop.example.com;script-src', 'https://shop.example.com,evil.example', "https://shop'self'", 'https://shop"x.example'];
    for (const bad of ['https://shop.example.com/', 'https://shop.example.com/widget', 'shop.example.com', 'ftp://shop.example.com', '*', '', ...hosts]) {
      const response = await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { allowed_origins: [bad] } });
      expect(response.statusCode, `${JSON.stringify(bad)}: ${response.body}`).toBe(422);
    }
    const after = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) });
    expect(json(after).allowed_origins).toEqual([SHOP]);
  });

  it('an origin written with capitals or its default port is either refused when saved or matches what browsers send', async () => {
    // Browsers send the origin serialised: lowercase scheme and host, no default port. An entry
    // that can never equal such a value must not be accepted silently (the widget would be
    // refused on the owner's own site with nothing to say why).
    const bot = await publicBot();
    for (const written of ['https://Shop.Example.com', 'HTTPS://shop.example.com', 'https://shop.example.com:443']) {
      const saved = await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { allowed_origins: [written] } });
      if (saved.statusCode === 422) continue;
      expect(saved.statusCode, saved.body).toBe(200);
      const page = await t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}`, headers: { origin: SHOP } });
      const what = `allowed_origins ${written} saved (answered ${JSON.stringify(json(saved).allowed_origins)}), then a browser at ${SHOP}`;
      expect.soft(page.statusCode, `${what}: ${page.body}`).toBe(200);
      expect.soft(page.headers['access-control-allow-origin'], what).toBe(SHOP);
    }
  });
});
