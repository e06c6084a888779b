// §2: every error is problem+json with an x-request-id, including the ones Node raises before
// the request reaches the app (oversized headers, a broken Content-Length, a request that takes
// too long to arrive). Sent as raw bytes: an HTTP client would refuse to send them.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { bearer } from '../helpers/factories.js';
import { chattingUser, fakeLlmEnv, listen, parseSse } from '../helpers/chat.js';

let t: TestApp;
let base: URL;
beforeAll(async () => {
  t = await createTestApp();
  base = new URL(await listen(t));
});
afterAll(async () => {
  await t?.close();
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes each chunk (after `gapMs`), then reads until the server closes; `null` if it never answers within `boundMs`. */
function rawExchange(port: number, chunks: string[], options: { gapMs?: number; boundMs?: number } = {}): Promise<RawAnswer | null> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let timer: NodeJS.Timeout | undefined;
    const bound = setTimeout(() => finish(), options.boundMs ?? 10_000);
    const finish = () => {
      clearTimeout(bound);
      clearTimeout(timer);
      socket.destroy();
      resolve(received ? parseAnswer(received) : null);
    };
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => (received += data));
    socket.on('close', finish);
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? finish() : reject(error)));
    const queue = [...chunks];
    const next = () => {
      if (queue.length === 0 || socket.destroyed) return;
      socket.write(queue.shift()!);
      timer = setTimeout(next, options.gapMs ?? 0);
    };
    socket.on('connect', next);
  });
}

function parseAnswer(text: string): RawAnswer {
  const split = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(split + 4) };
}

function expectProblemAnswer(answer: RawAnswer | null, status: number, code: string, givenId?: string): void {
  expect(answer, 'the server answered').not.toBeNull();
  expect(answer!.status).toBe(status);
  expect(answer!.headers['content-type']).toBe('application/problem+json');
  expect(answer!.headers.connection).toBe('close');
  const requestId = answer!.headers['x-request-id'];
  expect(requestId).toMatch(givenId ?? /^[0-9a-f-]{36}$/);
  const body = JSON.parse(answer!.body);
  expect(body).toEqual({ type: `urn:parley:problem:${code}`, title: expect.any(String), status, detail: expect.any(String), code, request_id: requestId });
}

async function stillServing(): Promise<void> {
  const response = await fetch(new URL('/health', base));
  expect(response.status).toBe(200);
}

describe('errors Node raises before the app', () => {
  it('a URL of 100,000 characters is a 431 problem', async () => {
    const answer = await rawExchange(Number(base.port), [`GET /health?q=${'a'.repeat(100_000)} HTTP/1.1\r\nhost: x\r\n\r\n`]);
    expectProblemAnswer(answer, 431, 'headers_too_large');
    await stillServing();
  });

  it('a Content-Length that is not a number is a 400 problem', async () => {
    const answer = await rawExchange(Number(base.port), ['POST /v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: abc\r\n\r\n{}']);
    expectProblemAnswer(answer, 400, 'bad_request');
    await stillServing();
  });

  it('Transfer-Encoding together with Content-Length is a 400 problem', async () => {
    const request = 'POST /v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\ncontent-length: 6\r\n\r\n2\r\n{}\r\n0\r\n\r\n';
    const answer = await rawExchange(Number(base.port), [request]);
    expectProblemAnswer(answer, 400, 'bad_request');
    await stillServing();
  });
});

describe('a client that leaves halfway through its body', () => {
  it('is logged as a client error, not as a database outage', async () => {
    const body = JSON.stringify({ title: 'Returns', content: 'You can return any product within 30 days. '.repeat(200) });
    // Found by a load of random faults: 627 warnings "service unavailable" naming database_unavailable in 20 s, the database untouched.
    for (const [i, path] of ['/v1/auth/login', '/v1/auth/register'].entries()) {
      const id = `leaver-${i}`;
      const head = `POST ${path} HTTP/1.1\r\nhost: x\r\nx-request-id: ${id}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
      expect(await rawExchange(Number(base.port), [head, body.slice(0, 100)], { boundMs: 300 })).toBeNull();
      const lines = () => t.logs.filter((line) => line.includes(`"request_id":"${id}"`));
      await expect.poll(() => lines().some((line) => line.includes('"msg":"client error"') && line.includes('"status":400'))).toBe(true);
      // Whatever else arrives for it in the meantime is there too.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(lines().filter((line) => /database_unavailable|service unavailable|"level":(40|50|60)/.test(line))).toEqual([]);
    }
    await stillServing();
  });
});

describe('REQUEST_TIMEOUT_MS', () => {
  let slow: TestApp;
  let fake: FakeLlm;
  let slowBase: URL;
  beforeAll(async () => {
    fake = await startFakeLlm({ reply: () => 'one two three four five six seven eight', chunkDelayMs: 400 });
    slow = await createTestApp(fakeLlmEnv(fake.url, { REQUEST_TIMEOUT_MS: '1000' }));
    slowBase = new URL(await listen(slow));
  });
  afterAll(async () => {
    await slow?.close();
    await fake?.close();
  });

  it('answers 408 to a body trickled in a byte at a time, and keeps serving others', async () => {
    const body = JSON.stringify({ username: 'trickle', password: 'a long enough password' });
    const head = `POST /v1/auth/login HTTP/1.1\r\nhost: x\r\nx-request-id: trickle-1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
    // The whole body would take 300 ms a byte, over 15 s; the bound only catches a server that never gives up.
    const answer = await rawExchange(Number(slowBase.port), [head, ...body.split('')], { gapMs: 300, boundMs: 8000 });
    expectProblemAnswer(answer, 408, 'request_timeout', 'trickle-1');
    // Logged under the caller's request id; the login that never got its body is not reported as a fault of ours.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(slow.logs.some((line) => line.includes('"client error"') && line.includes('"request_id":"trickle-1"'))).toBe(true);
    expect(slow.logs.filter((line) => /"level":(50|60)/.test(line))).toEqual([]);
    expect((await fetch(new URL('/health', slowBase))).status).toBe(200);
  });

  it('does not cut an event stream that lasts longer than the timeout', async () => {
    const { user, conversation } = await chattingUser(slow);
    const started = Date.now();
    const response = await fetch(new URL(`/v1/conversations/${conversation.id}/messages`, slowBase), {
      method: 'POST',
      headers: { ...bearer(user.accessToken), 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'Count to eight', stream: true }),
    });
    const events = parseSse(await response.text());
    // Premise of the test, not a speed check: the stream outlived REQUEST_TIMEOUT_MS.
    expect(Date.now() - started).toBeGreaterThan(1500);
    expect(events.at(-1)?.event).toBe('message.end');
    expect(events.filter((event) => event.event === 'message.delta').length).toBeGreaterThan(1);
  });
});
