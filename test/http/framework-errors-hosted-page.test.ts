// A hosted page address with broken percent-encoding (`/c/%zz`, an overlong UTF-8 `/c/%C0%AE`) is
// refused by the router before any route runs, and was answered with the API's JSON 400. A person
// who mistypes or half-copies a link gets the page's own "not found" (HTML, with its CSP), as every
// other wrong address under /c/ does. Sent over real HTTP so the path reaches the server as written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../helpers/factories.js';
import { openHostedPageStage, type HostedPageStage, type RawAnswer } from '../helpers/hosted-page-stage.js';

let stage: HostedPageStage;
beforeAll(async () => {
  stage = await openHostedPageStage();
});
afterAll(async () => {
  await stage?.close();
});

/** What a browser sees of an answer: all but what differs on every request. */
function seen(answer: RawAnswer) {
  const { 'x-request-id': _id, date: _date, connection: _connection, 'keep-alive': _keepAlive, ...headers } = answer.headers;
  return { status: answer.status, headers, body: answer.body };
}

const BROKEN = ['/c/%zz', '/c/%C0%AE', '/c/%E0%A4%A', '/c/ok%', '/c/%zz/', '/c/a/%zz', '/c/%FF?utm_source=mail'];

describe('a hosted page address with broken percent-encoding', () => {
  it("is the page's own not-found page, headers and all, as /c/unknown is", async () => {
    for (const method of ['GET', 'HEAD']) {
      const expected = seen(await stage.unknownPage(method));
      expect(expected.status).toBe(404);
      expect(expected.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(expected.headers['content-security-policy']).toEqual(expect.any(String));
      for (const path of BROKEN) {
        const answer = await stage.raw(path, method);
        expect(seen(answer), `${method} ${path}`).toEqual(expected);
        expect(answer.headers['x-request-id'], `${method} ${path}`).toEqual(expect.any(String));
      }
    }
  });

  it("stays the API's problem+json for other methods there and for API paths", async () => {
    for (const [method, path] of [['POST', '/c/%zz'], ['DELETE', '/c/%zz'], ['GET', '/v1/chatbots/%zz']] as const) {
      const answer = await stage.raw(path, method);
      expect(answer.status, `${method} ${path}`).toBe(400);
      expect(answer.headers['content-type'], `${method} ${path}`).toMatch(/^application\/problem\+json/);
    }
  });

  it('writes one request log line with the address as sent and the status, and is counted in the metrics, as /c/unknown is', async () => {
    const before = await metricValue(stage.t, 'parley_http_requests_total', { method: 'GET', status: '404' });
    for (const path of BROKEN) {
      const answer = await stage.raw(path);
      const id = answer.headers['x-request-id'] as string;
      const lines = stage.t.logs.filter((line) => line.includes(id) && line.includes('"msg":"request"')).map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines, path).toHaveLength(1);
      expect(lines[0], path).toMatchObject({ method: 'GET', path: path.split('?')[0], status: 404 });
    }
    expect(await metricValue(stage.t, 'parley_http_requests_total', { method: 'GET', status: '404' })).toBe(before + BROKEN.length);
  });
});
