// docs/deploy.md, "TLS termination and TRUST_PROXY", "Server-Sent Events through proxies" and
// "A real model", on the server itself: Parley installed as the guide says (on its embedded
// database here, so this runs on every machine), talking to an OpenAI-compatible server (the
// fake LLM, by the guide's `model-compatible` settings), receiving requests as nginx forwards
// them. No proxy is installed here: what the proxy adds is sent as its headers, and that the
// stream leaves Parley unbuffered is seen in the order curl receives it.
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { envOf, killAll, readGuide, removeTempDirs, startShell, stopServer, type Started } from './guide.js';
import { envLines, install, type Install } from './install.js';

const REPLY = 'one two three four five six';

let fake: FakeLlm;
let parley: Install;
let serving: Started;

beforeAll(async () => {
  // The model thinks before its first token: heartbeats come first, then deltas one by one.
  fake = await startFakeLlm({ firstTokenDelayMs: 1_000, chunkDelayMs: 150, reply: () => REPLY });
  parley = await install({ databaseUrl: null });
  parley.append(envLines({ ...envOf('model-compatible'), LLM_BASE_URL: fake.url }));
  // A heartbeat sooner than the 15 s default, and one registration per address, to see both here.
  parley.append('SSE_HEARTBEAT_MS=300\nRATE_LIMIT_REGISTER_IP=1/1h');
  serving = await parley.serve();
}, 120_000);
afterAll(async () => {
  if (serving) expect(await stopServer(serving)).toBe(0);
  killAll();
  await fake?.close();
  removeTempDirs();
});
afterEach(() => fake.reset());

/** A request as a proxy sends it (node:http, because fetch may not set Host). */
function send(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(`${parley.base}${path}`, { method, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

let next = 0;
const register = (forwardedFor: string) =>
  send('POST', '/v1/auth/register', { 'x-forwarded-for': forwardedFor }, { username: `proxied-${process.pid}-${next++}`, password: 'a long enough password' });

describe('docs/deploy.md: event streams through a proxy, with a real model', () => {
  it('sends the head, heartbeats while the model thinks, then each delta before the end (sse-check)', { timeout: 60_000 }, async () => {
    const stream = startShell(`${parley.local('smoke')}\n${parley.local('sse-check')}`);
    expect(await stream.exited, stream.stderr()).toBe(0);
    const output = stream.stdout();
    expect(output).toContain(`${REPLY}\n`);
    expect(output).toMatch(/^content-type: text\/event-stream; charset=utf-8\r$/m);
    expect(output).toMatch(/^cache-control: no-cache, no-transform\r$/m);
    expect(output).toMatch(/^x-accel-buffering: no\r$/m);

    /** The read in which `text` first arrived after the stream's head (the smoke test printed before it). */
    const at = (text: string) => {
      let seen = '';
      for (let i = 0; i < stream.chunks.length; i++) {
        seen += stream.chunks[i];
        const head = seen.indexOf('x-accel-buffering');
        if (head !== -1 && seen.indexOf(text, head) !== -1) return i;
      }
      return -1;
    };
    const start = at('event: message.start');
    const heartbeat = at(': keep-alive');
    const firstDelta = at('event: message.delta');
    const end = at('event: message.end');
    expect(start).toBeGreaterThanOrEqual(0);
    expect(heartbeat).toBeGreaterThan(start);
    expect(firstDelta).toBeGreaterThan(heartbeat);
    expect(end).toBeGreaterThan(firstDelta);
    const deltas = output.match(/^event: message\.delta$/gm) ?? [];
    expect(deltas.length).toBe(REPLY.split(' ').length);
  });

  it('keeps idle HTTP/1.1 connections 72 s, as the guide tells load balancers', async () => {
    const response = await send('GET', '/health', {});
    expect(response.headers['keep-alive']).toBe('timeout=72');
  });
});

describe('docs/deploy.md: TRUST_PROXY=true', () => {
  it('takes the client address from X-Forwarded-For: limits per address hold for the address the proxy sets', async () => {
    expect(parley.env().TRUST_PROXY).toBe('true');
    expect((await register('203.0.113.7')).status).toBe(201);
    expect((await register('203.0.113.7')).status).toBe(429);
    expect((await register('203.0.113.8')).status).toBe(201);
  });

  it('believes the first address: a proxy that appends to what the client sent lets the client pick its address', async () => {
    expect((await register('203.0.113.9')).status).toBe(201);
    // As nginx's $proxy_add_x_forwarded_for would send it: the client's own value, then its real address.
    expect((await register('198.51.100.1, 203.0.113.9')).status).toBe(201);
    expect((await register('198.51.100.2, 203.0.113.9')).status).toBe(201);
    expect(readGuide()).toContain('It takes the **first** address of `X-Forwarded-For`');
  });

  it('recognises its own hosted page by Host and X-Forwarded-Proto, and only with both', async () => {
    const owner = await register('203.0.113.10');
    expect(owner.status).toBe(201);
    const auth = { authorization: `Bearer ${owner.body.access_token}`, 'x-forwarded-for': '203.0.113.10' };
    const bot = await send('POST', '/v1/chatbots', auth, { name: 'Proxied page', is_public: true, allowed_origins: ['https://shop.example'] });
    expect(bot.status).toBe(201);
    const visit = (headers: Record<string, string>) =>
      send('POST', `/v1/public/chatbots/${bot.body.slug}/conversations`, { origin: 'https://parley.example.com', 'x-forwarded-for': '203.0.113.11', ...headers }, { visitor_id: 'page-visitor' });
    expect((await visit({ host: 'parley.example.com', 'x-forwarded-proto': 'https' })).status).toBe(201);
    expect((await visit({ host: 'parley.example.com' })).status).toBe(403);
    expect((await visit({ host: 'parley', 'x-forwarded-proto': 'https' })).status).toBe(403);
  });
});
