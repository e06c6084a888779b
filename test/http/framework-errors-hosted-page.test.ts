// A hosted page address with broken percent-encoding (`/c/%zz`, an overlong UTF-8 `/c/%C0%AE`) is
// refused by the router before any route runs, and was answered with the API's JSON 400. A person
// who mistypes or half-copies a link gets the page's own "not found" (HTML, with its CSP), as every
// other wrong address under /c/ does. Sent over real HTTP so the path reaches the server as written.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
let base: URL;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_PUBLIC_IP: '100000/1m', RATE_LIMIT_PUBLIC_VISITOR: '100000/1m', RATE_LIMIT_PUBLIC_CHATBOT: '100000/1m' });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  base = new URL(`http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`);
});
afterAll(async () => {
  await t?.close();
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with its path sent exactly as written (no client-side normalising). */
function raw(path: string, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: base.hostname, port: base.port, path, method, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer for ${path}`)));
    req.on('error', reject);
    req.end();
  });
}

/** What a browser sees of an answer: all but what differs on every request. */
function seen(answer: Raw) {
  const { 'x-request-id': _id, date: _date, connection: _connection, 'keep-alive': _keepAlive, ...headers } = answer.headers;
  return { status: answer.status, headers, body: answer.body };
}

const BROKEN = ['/c/%zz', '/c/%C0%AE', '/c/%E0%A4%A', '/c/ok%', '/c/%zz/', '/c/a/%zz', '/c/%FF?utm_source=mail'];

describe('a hosted page address with broken percent-encoding', () => {
  it("is the page's own not-found page, headers and all, as /c/unknown is", async () => {
    for (const method of ['GET', 'HEAD']) {
      const expected = seen(await raw('/c/no-such-chatbot', method));
      expect(expected.status).toBe(404);
      expect(expected.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(expected.headers['content-security-policy']).toEqual(expect.any(String));
      for (const path of BROKEN) {
        const answer = await raw(path, method);
        expect(seen(answer), `${method} ${path}`).toEqual(expected);
        expect(answer.headers['x-request-id'], `${method} ${path}`).toEqual(expect.any(String));
      }
    }
  });

  it("stays the API's problem+json for other methods there and for API paths", async () => {
    for (const [method, path] of [['POST', '/c/%zz'], ['DELETE', '/c/%zz'], ['GET', '/v1/chatbots/%zz']] as const) {
      const answer = await raw(path, method);
      expect(answer.status, `${method} ${path}`).toBe(400);
      expect(answer.headers['content-type'], `${method} ${path}`).toMatch(/^application\/problem\+json/);
    }
  });
});
