// The hosted page's language (§7) from what a browser, a proxy or a hand-written request sends as
// Accept-Language: only a tag for English, Chinese or Bengali chooses them, never a language whose
// code merely starts with the same letters, and nonsense falls back to English rather than failing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';

let t: TestApp;
let slug: string;

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_PUBLIC_IP: '100000/1m' });
  const owner = await registerUser(t);
  slug = (await createChatbot(t, owner, { name: 'Languages', is_public: true })).slug;
});
afterAll(async () => {
  await t?.close();
});

async function pageLang(acceptLanguage: string): Promise<string | undefined> {
  const page = await t.request({ method: 'GET', url: `/c/${slug}`, headers: { 'accept-language': acceptLanguage } });
  expect(page.statusCode, acceptLanguage).toBe(200);
  return /<html lang="([^"]+)">/.exec(page.body)?.[1];
}

describe('the hosted page language', () => {
  it('is not chosen by other languages whose codes begin like Chinese or Bengali', async () => {
    // Bunun (bnn) and the Chinese language family's code (zhx) are not the widget's languages.
    expect(await pageLang('bnn')).toBe('en');
    expect(await pageLang('zhx, bnn;q=0.9')).toBe('en');
    expect(await pageLang('bnn, zh-TW;q=0.5')).toBe('zh-Hant');
    expect(await pageLang('zhx, bn;q=0.5')).toBe('bn');
  });

  it('reads region and script subtags, any case, and the underscores some clients send', async () => {
    expect(await pageLang('zh-Hant-TW')).toBe('zh-Hant');
    expect(await pageLang('ZH-hk')).toBe('zh-Hant');
    expect(await pageLang('zh_TW')).toBe('zh-Hant');
    expect(await pageLang('bn-IN')).toBe('bn');
    expect(await pageLang('bn_BD')).toBe('bn');
    expect(await pageLang('BN ; Q=0.9, en;q=0.1')).toBe('bn');
  });

  it('falls back to English for nonsense, wildcards and refusals', async () => {
    for (const header of ['', '*', ';;;,,,', 'bn;q=NaN', 'zh;q=0, bn;q=0', '__proto__', 'x'.repeat(8000), Array.from({ length: 2000 }, (_, i) => `x${i};q=0.${i % 10}`).join(',')]) {
      expect(await pageLang(header), header.slice(0, 40)).toBe('en');
    }
  });
});
