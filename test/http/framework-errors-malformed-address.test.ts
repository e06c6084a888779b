// An API address with broken percent-encoding (`/v1/chatbots/%zz`, a cut UTF-8 sequence) is refused
// by the router before any route runs. Its 400 was written straight to the socket: no CORS headers
// (a browser app on an allowed site could not read why its call failed), no request log line and no
// count in the metrics, unlike every other refusal. It is now answered like them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, metricValue, registerUser, type RegisteredUser } from '../helpers/factories.js';

const SITE = 'https://app.example';

let t: TestApp;
let user: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp({ CORS_ORIGINS: SITE });
  user = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
});

/** The request line the app logged for one answer (every one it wrote, to see there is one). */
function requestLines(answerId: string) {
  return t.logs.filter((line) => line.includes(answerId) && line.includes('"msg":"request"')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

const BROKEN: Array<{ method: 'GET' | 'POST' | 'DELETE'; url: string; logged: string; payload?: string }> = [
  { method: 'GET', url: '/v1/chatbots/%zz', logged: '/v1/chatbots/%zz' },
  { method: 'GET', url: '/v1/chatbots/%C0%AE?limit=5', logged: '/v1/chatbots/%C0%AE' },
  // The body is not read: a broken one does not change which refusal the caller gets.
  { method: 'POST', url: '/v1/conversations/%E0%A4%A/messages', logged: '/v1/conversations/%E0%A4%A/messages', payload: '{' },
  { method: 'POST', url: '/v1/conversations/%E0%A4%A/messages', logged: '/v1/conversations/%E0%A4%A/messages', payload: '{"content":"hello"}' },
  // A chatbot key put in the address by mistake is masked in the log, as in every other request line.
  { method: 'DELETE', url: '/v1/chatbots/parley_sk_Secret123%zz/keys/x', logged: '/v1/chatbots/parley_sk_[redacted]%zz/keys/x' },
];

describe('an API address with broken percent-encoding', () => {
  it('answers 400 bad_request with the CORS headers an allowed site needs to read it', async () => {
    for (const c of BROKEN) {
      const headers = { origin: SITE, ...bearer(user.accessToken), ...(c.payload !== undefined ? { 'content-type': 'application/json' } : {}) };
      const answer = await t.request({ method: c.method, url: c.url, headers, ...(c.payload !== undefined ? { payload: c.payload } : {}) });
      const name = `${c.method} ${c.url}`;
      expect(answer.statusCode, name).toBe(400);
      expect(answer.headers['content-type'], name).toMatch(/^application\/problem\+json/);
      expect(answer.headers['access-control-allow-origin'], name).toBe(SITE);
      expect(String(answer.headers['access-control-expose-headers']), name).toContain('x-request-id');
      const body = json(answer);
      expect(Object.keys(body).sort(), name).toEqual(['code', 'detail', 'request_id', 'status', 'title', 'type']);
      expect(body, name).toMatchObject({ status: 400, code: 'bad_request', detail: 'The request URL is malformed', request_id: answer.headers['x-request-id'] });
    }
  });

  it('gives no CORS headers to a site the API does not let in', async () => {
    const answer = await t.request({ method: 'GET', url: '/v1/chatbots/%zz', headers: { origin: 'https://elsewhere.example' } });
    expect(answer.statusCode).toBe(400);
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
  });

  it("keeps the caller's request id", async () => {
    const answer = await t.request({ method: 'GET', url: '/v1/chatbots/%zz', headers: { 'x-request-id': 'trace-malformed-1' } });
    expect(answer.headers['x-request-id']).toBe('trace-malformed-1');
    expect(json(answer).request_id).toBe('trace-malformed-1');
  });

  it('writes one request log line with the address as sent, its secrets masked, and the status', async () => {
    for (const c of BROKEN) {
      const answer = await t.request({ method: c.method, url: c.url, headers: bearer(user.accessToken), ...(c.payload !== undefined ? { payload: c.payload } : {}) });
      const lines = requestLines(answer.headers['x-request-id'] as string);
      expect(lines, `${c.method} ${c.url}`).toHaveLength(1);
      expect(lines[0], `${c.method} ${c.url}`).toMatchObject({ method: c.method, path: c.logged, status: 400 });
    }
    expect(t.logs.join('\n')).not.toContain('Secret123');
  });

  it('is counted in the request metrics', async () => {
    const before = await metricValue(t, 'parley_http_requests_total', { method: 'GET', status: '400' });
    for (let i = 0; i < 3; i++) await t.request({ method: 'GET', url: '/v1/chatbots/%zz' });
    expect(await metricValue(t, 'parley_http_requests_total', { method: 'GET', status: '400' })).toBe(before + 3);
  });
});
