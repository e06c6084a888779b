// GET /widget.js and its panel are compressed as the client accepts (§7): an encoding it lists
// with q=0 is one it refuses (RFC 9110 §12.5.3), so it must not be sent one it cannot read; the
// next it accepts, or none, is used instead.
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const get = (acceptEncoding: string) => t.request({ method: 'GET', url: '/widget.js', headers: { 'accept-encoding': acceptEncoding } });

/** The body as the client reads it, given the encoding the server says it used. */
function decoded(response: Awaited<ReturnType<typeof get>>): string {
  const encoding = response.headers['content-encoding'];
  if (encoding === 'br') return brotliDecompressSync(response.rawPayload).toString();
  if (encoding === 'gzip') return gunzipSync(response.rawPayload).toString();
  expect(encoding).toBeUndefined();
  return response.body;
}

it('never sends an encoding the client refuses with q=0, and uses the next one it accepts', async () => {
  const plain = (await t.request({ method: 'GET', url: '/widget.js' })).body;
  const cases: Array<[string, string | undefined]> = [
    ['gzip, br', 'br'],
    ['br;q=0, gzip', 'gzip'],
    ['gzip;q=1.0, br;q=0.000', 'gzip'],
    ['br; q=0', undefined],
    ['gzip;q=0, br;q=0', undefined],
    ['BR;Q=0, GZIP', 'gzip'],
    ['gzip;q=0.5', 'gzip'],
  ];
  for (const [accepted, expected] of cases) {
    const response = await get(accepted);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-encoding'], accepted).toBe(expected);
    expect(decoded(response)).toBe(plain);
  }
});
