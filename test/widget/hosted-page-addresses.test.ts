// The addresses a person types or pastes for the hosted chat page (§7, GET /c/{slug}): a trailing
// slash still reaches the page, a wrong address under /c/ is the page's own "not found" (HTML, not
// the API's JSON), and none of them can be bent into a redirect to another site. Sent over real
// HTTP where it matters: the in-process client tidies paths ("/c/%2e%2e", "//x") before the server
// sees them, a browser or a script does not.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { openHostedPageStage, type HostedPageStage } from '../helpers/hosted-page-stage.js';

let stage: HostedPageStage;
let t: TestApp;
let owner: RegisteredUser;

beforeAll(async () => {
  stage = await openHostedPageStage();
  t = stage.t;
});
afterAll(async () => {
  await stage?.close();
});
beforeEach(async () => {
  owner = await registerUser(t);
});

describe('a hosted page address with a trailing slash', () => {
  it('redirects permanently to the page, keeping the query string', async () => {
    const bot = await createChatbot(t, owner, { name: 'Slashed', is_public: true });
    for (const [path, target] of [
      [`/c/${bot.slug}/`, `/c/${bot.slug}`],
      [`/c/${bot.slug}/?utm_source=mail&q=a%20b`, `/c/${bot.slug}?utm_source=mail&q=a%20b`],
      [`/c/${bot.id}/`, `/c/${bot.id}`],
    ] as const) {
      const moved = await stage.raw(path);
      expect(moved.status, path).toBe(308);
      expect(moved.headers.location, path).toBe(target);
      const page = await stage.raw(target);
      expect(page.status, target).toBe(200);
      expect(page.body).toContain('<title>Slashed</title>');
    }
    // Decided by the address's form alone: a private chatbot is not told apart from a missing one.
    const hidden = await createChatbot(t, owner, { name: 'Hidden', is_public: false });
    for (const key of [hidden.slug, 'no-such-chatbot']) {
      const moved = await stage.raw(`/c/${key}/`);
      expect([moved.status, moved.headers.location], key).toEqual([308, `/c/${key}`]);
      expect((await stage.raw(`/c/${key}`)).body, key).toBe((await stage.unknownPage()).body);
    }
    const head = await stage.raw(`/c/${bot.slug}/`, 'HEAD');
    expect(head.status).toBe(308);
    expect(head.headers.location).toBe(`/c/${bot.slug}`);
  });

  it('never sends a browser to another site, whatever the path or query holds', async () => {
    const paths = [
      '//evil.example/',
      '/c//evil.example/',
      '/c/%2F%2Fevil.example/',
      '/c/%2f%2fevil.example/',
      '/c/\\evil.example/',
      '/c/%5Cevil.example/',
      '/c/%5C%5Cevil.example/',
      '/c/https:%2F%2Fevil.example/',
      '/c/..%2F..%2F%2Fevil.example/',
      '/c/%2e%2e/',
      '/c/%09/',
      '/c/x/?next=//evil.example',
      '/c/x/?%0d%0aset-cookie:a=b',
    ];
    for (const path of paths) {
      const answer = await stage.raw(path);
      const location = answer.headers.location;
      expect(answer.headers['set-cookie'], path).toBeUndefined();
      if (location === undefined) continue;
      expect(String(location), path).toMatch(/^\/c\/[A-Za-z0-9-]/);
      expect(new URL(String(location), 'http://parley.test/c/x/').host, path).toBe('parley.test');
    }
  });
});

describe('a wrong address under /c/', () => {
  it("is the hosted page's own not-found page, with its headers, for a browser", async () => {
    const expected = await stage.unknownPage();
    expect(expected.status).toBe(404);
    expect(expected.headers['content-type']).toBe('text/html; charset=utf-8');
    for (const path of [`/c/${'a'.repeat(101)}`, `/c/${'a'.repeat(5000)}`, `/c/${'a'.repeat(300)}/`, '/c/a/b', '/c/a/b/c/', '/c/x//', '/c', '/c/', '/c/%E4%BD%A0%E5%A5%BD/x']) {
      const answer = await stage.raw(path);
      expect(answer.status, path).toBe(404);
      expect(answer.headers['content-type'], path).toBe('text/html; charset=utf-8');
      expect(answer.headers['content-security-policy'], path).toBe(expected.headers['content-security-policy']);
      expect(answer.headers['x-content-type-options'], path).toBe('nosniff');
      expect(answer.body, path).toBe(expected.body);
      const head = await stage.raw(path, 'HEAD');
      expect(head.status, path).toBe(404);
      expect(head.headers['content-type'], path).toBe('text/html; charset=utf-8');
    }
  });

  it("answers other sites as /c/unknown does, even where the API's CORS is open to every origin", async () => {
    const open = await createTestApp({ CORS_ORIGINS: '*' });
    try {
      const asked = { origin: 'https://elsewhere.example' };
      const expected = await open.request({ method: 'GET', url: '/c/no-such-chatbot', headers: asked });
      expect(expected.headers['access-control-allow-origin']).toBeUndefined();
      for (const url of ['/c/a/b', `/c/${'a'.repeat(300)}`, '/c', '/c/no-such-chatbot/']) {
        const answer = await open.request({ method: 'GET', url, headers: asked });
        expect(answer.headers['access-control-allow-origin'], url).toBeUndefined();
      }
    } finally {
      await open.close();
    }
  });

  it('stays problem+json for API clients: other methods there, and unknown API paths', async () => {
    for (const [method, path] of [
      ['POST', '/c/a/b'],
      ['DELETE', `/c/${'a'.repeat(300)}`],
      ['GET', `/v1/chatbots/${'a'.repeat(300)}/documents`],
      ['GET', '/v1/no-such-thing'],
    ] as const) {
      const answer = await t.request({ method, url: path });
      expect(answer.statusCode, path).toBe(404);
      expect(answer.headers['content-type'], path).toContain('application/problem+json');
      expect(json(answer).code, path).toBe('not_found');
    }
  });
});

describe('the answer for an unknown route', () => {
  it('names the path it could not find, cut short when long, and is never read as a page', async () => {
    const short = await t.request({ method: 'GET', url: '/v1/chatbotz' });
    expect(json(short).detail).toBe('No route GET /v1/chatbotz');
    expect(short.headers['x-content-type-options']).toBe('nosniff');
    const long = await stage.raw(`/nope/${'x'.repeat(6000)}`);
    expect(long.status).toBe(404);
    expect(long.headers['content-type']).toContain('application/problem+json');
    expect(long.headers['x-content-type-options']).toBe('nosniff');
    const detail = String((JSON.parse(long.body) as { detail: string }).detail);
    expect(detail.length).toBeLessThanOrEqual(240);
    expect(detail.startsWith('No route GET /nope/xxx')).toBe(true);
    expect(long.body.length).toBeLessThan(600);
  });
});
