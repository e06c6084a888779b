// What the server does for the widget and the hosted page (§7), in-process: the built files with
// their caching, compression and CORS; the hosted page's shell, escaping, language, CSP and
// frame-ancestors; and the hosted page's own requests passing a chatbot's origin rule.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WIDGET_DIR } from '../../src/features/widget/widget-assets.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startVisitRaw, visitorSend } from '../helpers/public.js';

const SHOP = 'https://shop.example.com';
let t: TestApp;
let owner: RegisteredUser;
const manifest = () => JSON.parse(readFileSync(new URL('manifest.json', WIDGET_DIR), 'utf8')) as { panel: string; gzip: { loader: number; panel: number } };

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_PUBLIC_IP: '100000/1m', RATE_LIMIT_PUBLIC_VISITOR: '100000/1m', RATE_LIMIT_PUBLIC_CHATBOT: '100000/1m' });
});
afterAll(async () => {
  await t?.close();
});
beforeEach(async () => {
  owner = await registerUser(t);
});

describe('the widget files', () => {
  it('serves widget.js to any origin, revalidated by ETag after five minutes, compressed when asked', async () => {
    const plain = await t.request({ method: 'GET', url: '/widget.js', headers: { origin: SHOP } });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toMatch(/^text\/javascript/);
    expect(plain.headers['access-control-allow-origin']).toBe('*');
    expect(plain.headers['cache-control']).toContain('max-age=300');
    expect(plain.body).toContain(manifest().panel);
    const etag = String(plain.headers.etag);
    const again = await t.request({ method: 'GET', url: '/widget.js', headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const gzip = await t.request({ method: 'GET', url: '/widget.js', headers: { 'accept-encoding': 'gzip' } });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzip.rawPayload).toString()).toBe(plain.body);
  });

  it('caches the panel for a year under its content-hashed name; any other name is 404', async () => {
    const panel = await t.request({ method: 'GET', url: `/widget/${manifest().panel}` });
    expect(panel.statusCode).toBe(200);
    expect(panel.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(panel.headers['access-control-allow-origin']).toBe('*');
    for (const url of ['/widget/panel.000000000000.js', '/widget/..%2Fmanifest.json', '/widget/manifest.json']) {
      const missing = await t.request({ method: 'GET', url });
      expect(missing.statusCode, url).toBe(404);
      expect(missing.headers['content-type']).toContain('application/problem+json');
    }
  });

  it('stays within its size budget: widget.js at most 6 KiB and the panel at most 30 KiB gzip', () => {
    const { gzip } = manifest();
    expect(gzip.loader).toBeLessThanOrEqual(6 * 1024);
    expect(gzip.panel).toBeLessThanOrEqual(30 * 1024);
  });
});

describe('the hosted page', () => {
  it("is a shell titled and described by the chatbot, escaped, running the widget in page mode", async () => {
    const bot = await createChatbot(t, owner, { name: 'Shop <script>alert(1)</script> & co', description: 'Ask "us" <b>anything</b>', is_public: true });
    const page = await t.request({ method: 'GET', url: `/c/${bot.slug}` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<title>Shop &lt;script&gt;alert(1)&lt;/script&gt; &amp; co</title>');
    expect(page.body).toContain('<meta name="description" content="Ask &quot;us&quot; &lt;b&gt;anything&lt;/b&gt;">');
    expect(page.body).not.toContain('<script>alert');
    expect(page.body).toContain(`<script src="/widget.js" data-chatbot="${bot.slug}" data-mode="page" async></script>`);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain('frame-ancestors *');
  });

  it("lets only the chatbot's allowed origins frame it", async () => {
    const bot = await createChatbot(t, owner, { name: 'Framed', is_public: true, allowed_origins: [SHOP] });
    const page = await t.request({ method: 'GET', url: `/c/${bot.id}` });
    expect(page.statusCode).toBe(200);
    expect(String(page.headers['content-security-policy'])).toContain(`frame-ancestors 'self' ${SHOP}`);
  });

  it('speaks the visitor language the browser asks for, among English, Traditional Chinese and Bengali', async () => {
    const bot = await createChatbot(t, owner, { name: 'Polyglot', is_public: true });
    const lang = async (accept: string) => /<html lang="([^"]+)">/.exec((await t.request({ method: 'GET', url: `/c/${bot.slug}`, headers: { 'accept-language': accept } })).body)?.[1];
    expect(await lang('zh-TW,zh;q=0.9,en;q=0.5')).toBe('zh-Hant');
    expect(await lang('fr-FR, bn;q=0.8, en;q=0.7')).toBe('bn');
    expect(await lang('en-GB;q=0.2, bn;q=0.9')).toBe('bn');
    expect(await lang('de')).toBe('en');
  });

  it('is 404 for a private, deleted or unknown chatbot, the same for each', async () => {
    const hidden = await createChatbot(t, owner, { name: 'Hidden', is_public: false });
    const gone = await createChatbot(t, owner, { name: 'Gone', is_public: true });
    expect((await t.request({ method: 'DELETE', url: `/v1/chatbots/${gone.id}`, headers: bearer(owner.accessToken) })).statusCode).toBe(204);
    const bodies = new Set<string>();
    for (const key of [hidden.slug, hidden.id, gone.slug, 'no-such-bot', '%00', 'a'.repeat(90)]) {
      const page = await t.request({ method: 'GET', url: `/c/${key}` });
      expect(page.statusCode, key).toBe(404);
      expect(page.body).not.toContain('Hidden');
      bodies.add(page.body);
    }
    // Past the router's limit on a path segment: the same page.
    const long = await t.request({ method: 'GET', url: `/c/${'a'.repeat(300)}` });
    expect(long.statusCode).toBe(404);
    bodies.add(long.body);
    expect(bodies.size).toBe(1);
  });

  it("lets the hosted page's own requests through a chatbot's origin list, and no other", async () => {
    const bot = await createChatbot(t, owner, { name: 'Own page', is_public: true, allowed_origins: [SHOP] });
    const self = { host: 'parley.test', origin: 'http://parley.test' };
    // A same-origin GET carries no Origin; the browser marks it with Sec-Fetch-Site instead.
    const page = await t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}`, headers: { host: self.host, 'sec-fetch-site': 'same-origin' } });
    expect(page.statusCode).toBe(200);
    const visit = await startVisitRaw(t, bot.slug, { visitor_id: 'page' }, self);
    expect(visit.statusCode).toBe(201);
    const sent = await visitorSend(t, json(visit).visitor_token, json(visit).conversation_id, { content: 'hello' }, self);
    expect(sent.statusCode).toBe(201);
    // Another site naming Parley's host in its own requests gains nothing: only Origin counts.
    const other = await startVisitRaw(t, bot.slug, { visitor_id: 'x' }, { host: self.host, origin: 'https://evil.example' });
    expect(other.statusCode).toBe(403);
    const crossSite = await t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}`, headers: { host: self.host, 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.statusCode).toBe(403);
  });
});
