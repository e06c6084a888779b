// widget.js and the panel as caches and browsers revalidate them (§7): each compressed form is its
// own representation with its own strong ETag (RFC 9110 §8.8.3), so a shared cache that holds a
// gzip copy and revalidates on behalf of a client that cannot read gzip is never told, by a 304,
// that its gzip copy will do. Range is not offered: the whole file comes back.
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({});
});
afterAll(async () => {
  await t?.close();
});

const get = (headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') => t.request({ method, url: '/widget.js', headers });

describe('compressing widget.js', () => {
  it("follows the client's stated preference between brotli and gzip, and a refusal of both", async () => {
    const encoding = async (accept: string) => (await get({ 'accept-encoding': accept })).headers['content-encoding'];
    expect(await encoding('gzip, deflate, br, zstd')).toBe('br');
    expect(await encoding('gzip;q=1, br;q=0.5')).toBe('gzip');
    expect(await encoding('br;q=0.2, gzip;q=0.8')).toBe('gzip');
    expect(await encoding('GZIP')).toBe('gzip');
    expect(await encoding('*')).toBe('br');
    expect(await encoding('*;q=0.5, br;q=0')).toBe('gzip');
    expect(await encoding('br;q=0, gzip;q=0, identity')).toBeUndefined();
    expect(await encoding('gzip;q=nonsense')).toBeUndefined();
    expect(await encoding('')).toBeUndefined();
  });
});

describe('revalidating widget.js', () => {
  it('tags the plain, gzip and brotli forms apart, and revalidates each against its own tag', async () => {
    const plain = await get();
    const gzip = await get({ 'accept-encoding': 'gzip' });
    const br = await get({ 'accept-encoding': 'br, gzip' });
    expect(gunzipSync(gzip.rawPayload).toString()).toBe(plain.body);
    expect(brotliDecompressSync(br.rawPayload).toString()).toBe(plain.body);
    const tags = [plain, gzip, br].map((answer) => String(answer.headers.etag));
    expect(new Set(tags).size).toBe(3);
    for (const tag of tags) expect(tag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    for (const [encoding, tag] of [['identity', tags[0]!], ['gzip', tags[1]!], ['br', tags[2]!]] as const) {
      const again = await get({ 'accept-encoding': encoding, 'if-none-match': `"other", W/${tag}` });
      expect(again.statusCode, encoding).toBe(304);
      expect(again.headers.etag, encoding).toBe(tag);
      expect(again.headers.vary).toBe('accept-encoding');
    }
  });

  it("answers a client that cannot read gzip in full, even when it presents the gzip form's tag", async () => {
    const gzipTag = String((await get({ 'accept-encoding': 'gzip' })).headers.etag);
    const plain = await get({ 'if-none-match': gzipTag });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toContain('data-chatbot');
  });

  it('sends the whole file for a Range request, and HEAD gives the same headers without a body', async () => {
    const whole = await get();
    const ranged = await get({ range: 'bytes=0-10' });
    expect(ranged.statusCode).toBe(200);
    expect(ranged.headers['content-range']).toBeUndefined();
    expect(ranged.body).toBe(whole.body);
    const head = await get({ 'accept-encoding': 'gzip' }, 'HEAD');
    const full = await get({ 'accept-encoding': 'gzip' });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    for (const name of ['etag', 'content-type', 'content-encoding', 'content-length', 'cache-control', 'vary']) expect(head.headers[name], name).toBe(full.headers[name]);
  });
});
