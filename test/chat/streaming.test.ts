// §6.1 Streaming: the event sequence, what is stored, headers before the first token, no
// buffering, heartbeats, and what a client leaving mid-stream does upstream and in storage.
import http from 'node:http';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { chattingUser, fakeLlmEnv, listen, parseSse, sendMessage, type SseEvent } from '../helpers/chat.js';

let fake: FakeLlm;
let t: TestApp;
let base: string;

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url, { SSE_HEARTBEAT_MS: '200' }));
  base = await listen(t);
});
afterEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

/** Same clock as the fake's receivedAt / closedAt. */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const messagesOf = async (user: RegisteredUser, conversationId: string) =>
  json(await t.request({ method: 'GET', url: `/v1/conversations/${conversationId}/messages`, headers: bearer(user.accessToken) })).data as any[];

interface TimedEvent extends SseEvent {
  at: number;
}

interface LiveStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  headersAt: number;
  events: TimedEvent[];
  /** Arrival times of `:` comment lines (heartbeats). */
  comments: number[];
  ended: Promise<void>;
  /** Destroys the socket; returns when. */
  leave(): number;
}

/** POSTs over a real socket and parses the event stream as it arrives, timing each event. */
function openStream(path: string, user: RegisteredUser, body: unknown, headers: Record<string, string> = {}): Promise<LiveStream> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), {
      method: 'POST',
      headers: { ...bearer(user.accessToken), 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)), ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const stream: LiveStream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        headersAt: now(),
        events: [],
        comments: [],
        ended: new Promise((done) => res.on('close', done)),
        leave() {
          req.destroy();
          return now();
        },
      };
      res.on('error', () => {});
      req.removeListener('error', reject);
      req.on('error', () => {});
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const at = now();
        buffer += chunk;
        for (let cut = buffer.indexOf('\n\n'); cut !== -1; cut = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          if (block.split('\n').some((line) => line.startsWith(':'))) stream.comments.push(at);
          for (const event of parseSse(block)) stream.events.push({ ...event, at });
        }
      });
      resolve(stream);
    });
    req.end(payload);
  });
}

const deltasOf = (events: SseEvent[]) => events.filter((e) => e.event === 'message.delta');

/** A whole streamed answer over a real socket (as a browser's fetch reads it). */
async function streamed(path: string, user: RegisteredUser, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(new URL(path, base), {
    method: 'POST',
    headers: { ...bearer(user.accessToken), 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, events: parseSse(text) };
}

describe('streaming a reply (§6.1)', () => {
  it('answers stream:true with 200 text/event-stream: message.start, deltas, then message.end with the stored reply', async () => {
    const { user, conversation } = await chattingUser(t);
    const content = 'Tell me about the weather on Mars today';
    const response = await streamed(`/v1/conversations/${conversation.id}/messages`, user, { content, stream: true });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-request-id')).toBeTruthy();

    const events = response.events;
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('message.start');
    expect(names.at(-1)).toBe('message.end');
    expect(names.slice(1, -1).every((name) => name === 'message.delta')).toBe(true);
    expect(names.length).toBeGreaterThanOrEqual(3);

    const start = events[0]!.data;
    expect(start.conversation_id).toBe(conversation.id);
    expect(start.user_message).toMatchObject({ role: 'user', content, status: 'complete' });
    expect(typeof start.reply_id).toBe('string');
    const deltas = deltasOf(events);
    for (const delta of deltas) expect(delta.data.reply_id).toBe(start.reply_id);

    const { reply } = events.at(-1)!.data;
    expect(reply).toMatchObject({ id: start.reply_id, role: 'assistant', status: 'complete', content: `You said: ${content}` });
    expect(deltas.map((d) => d.data.delta).join('')).toBe(reply.content);
    expect(reply.usage.prompt_tokens).toBeGreaterThan(0);
    expect(reply.usage.completion_tokens).toBeGreaterThan(0);
    expect(typeof reply.latency_ms).toBe('number');

    expect(await messagesOf(user, conversation.id)).toEqual([start.user_message, reply]);
  });

  it('streams when the client sends Accept: text/event-stream without a stream field', async () => {
    const { user, conversation } = await chattingUser(t);
    const response = await streamed(`/v1/conversations/${conversation.id}/messages`, user, { content: 'Hello there' }, { accept: 'text/event-stream' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = response.events;
    expect(events[0]!.event).toBe('message.start');
    const end = events.at(-1)!;
    expect(end.event).toBe('message.end');
    expect(deltasOf(events).map((d) => d.data.delta).join('')).toBe('You said: Hello there');
    expect(end.data.reply.content).toBe('You said: Hello there');
    expect(await messagesOf(user, conversation.id)).toEqual([events[0]!.data.user_message, end.data.reply]);
  });

  it('sends the headers and message.start before the model produces its first token', async () => {
    fake.setDelays({ firstTokenDelayMs: 500 });
    const { user, conversation } = await chattingUser(t);
    const stream = await openStream(`/v1/conversations/${conversation.id}/messages`, user, { content: 'Slow start please', stream: true }, { 'x-request-id': 'stream-req-1' });
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(stream.headers['x-request-id']).toBe('stream-req-1');
    await stream.ended;

    const start = stream.events.find((e) => e.event === 'message.start')!;
    const firstDelta = stream.events.find((e) => e.event === 'message.delta')!;
    expect(start).toBeDefined();
    expect(firstDelta).toBeDefined();
    // The model waits 500 ms before its first token: both must have arrived well before it.
    expect(firstDelta.at - stream.headersAt).toBeGreaterThanOrEqual(300);
    expect(firstDelta.at - start.at).toBeGreaterThanOrEqual(300);
    expect(stream.events.at(-1)!.event).toBe('message.end');
  });

  it('writes each delta as it comes rather than in one burst at the end', async () => {
    fake.setDelays({ chunkDelayMs: 100 });
    fake.setReply(() => 'one two three four five');
    const { user, conversation } = await chattingUser(t);
    const stream = await openStream(`/v1/conversations/${conversation.id}/messages`, user, { content: 'Count to five', stream: true });
    await stream.ended;
    const deltas = stream.events.filter((e) => e.event === 'message.delta');
    expect(deltas.map((d) => d.data.delta).join('')).toBe('one two three four five');
    expect(deltas.length).toBeGreaterThanOrEqual(3);
    // Five chunks 100 ms apart upstream: about 400 ms between the first and the last here.
    expect(deltas.at(-1)!.at - deltas[0]!.at).toBeGreaterThanOrEqual(300);
    expect(stream.events.at(-1)!.data.reply.content).toBe('one two three four five');
  });

  it('sends comment heartbeats while the model is still thinking', async () => {
    fake.setDelays({ firstTokenDelayMs: 700 });
    const { user, conversation } = await chattingUser(t);
    const stream = await openStream(`/v1/conversations/${conversation.id}/messages`, user, { content: 'Think hard', stream: true });
    await stream.ended;
    const firstDelta = stream.events.find((e) => e.event === 'message.delta')!;
    expect(stream.comments.length).toBeGreaterThanOrEqual(1);
    expect(stream.comments[0]!).toBeLessThan(firstDelta.at);
    expect(stream.events.at(-1)!.event).toBe('message.end');
  });

  it('aborts the model call when the client leaves and stores the partial reply as interrupted', async () => {
    const full = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    fake.setReply(() => full);
    fake.setDelays({ chunkDelayMs: 200 });
    const { user, conversation } = await chattingUser(t);
    const stream = await openStream(`/v1/conversations/${conversation.id}/messages`, user, { content: 'Talk for a long time', stream: true });
    await until(() => stream.events.find((e) => e.event === 'message.delta'), 'the first delta');
    const leftAt = stream.leave();

    await fake.waitFor((requests) => requests.length === 1 && requests[0]!.closedAt !== null, 3000);
    const upstream = fake.requests[0]!;
    expect(upstream.aborted).toBe(true);
    expect(upstream.closedAt! - leftAt).toBeLessThan(1000);

    const reply = await until(async () => (await messagesOf(user, conversation.id)).find((m) => m.role === 'assistant'), 'the stored reply');
    expect(reply.status).toBe('interrupted');
    expect(reply.content.length).toBeGreaterThan(0);
    expect(full.startsWith(reply.content)).toBe(true);
    expect(reply.content.length).toBeLessThan(full.length);

    // The conversation is free again.
    fake.reset();
    const next = await sendMessage(t, user, conversation.id, { content: 'Are you still there?' });
    expect(next.statusCode, next.body).toBe(201);
  });

  it('treats a client that half-closes its connection mid-stream as gone: the model call closes, the reply is kept as interrupted', async () => {
    const full = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    fake.setReply(() => full);
    fake.setDelays({ chunkDelayMs: 200 });
    const { user, conversation } = await chattingUser(t);
    const payload = JSON.stringify({ content: 'Talk for a long time', stream: true });
    // A raw socket that can send its FIN and still read: what a client doing shutdown(SHUT_WR) sends.
    const socket = net.connect({ host: new URL(base).hostname, port: Number(new URL(base).port), allowHalfOpen: true });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => {});
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.write(
      `POST /v1/conversations/${conversation.id}/messages HTTP/1.1\r\nhost: parley\r\nauthorization: Bearer ${user.accessToken}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
    );
    await until(() => (received.includes('event: message.delta') ? true : undefined), 'the first delta');
    socket.end();

    await fake.waitFor((requests) => requests.length === 1 && requests[0]!.closedAt !== null, 3000);
    expect(fake.requests[0]!.aborted).toBe(true);
    await closed;
    const reply = await until(async () => (await messagesOf(user, conversation.id)).find((m) => m.role === 'assistant'), 'the stored reply');
    expect(reply.status).toBe('interrupted');
    expect(full.startsWith(reply.content)).toBe(true);
    expect(reply.content.length).toBeLessThan(full.length);
  });

  it('POST /v1/chat with stream:true starts a new conversation and names it in message.start', async () => {
    const user = await registerUser(t);
    const response = await streamed('/v1/chat', user, { message: 'First words', stream: true });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-request-id')).toBeTruthy();
    const events = response.events;
    expect(events[0]!.event).toBe('message.start');
    const conversationId = events[0]!.data.conversation_id;
    expect(conversationId).toMatch(/^[0-9a-f-]{36}$/);
    const end = events.at(-1)!;
    expect(end.event).toBe('message.end');
    expect(end.data.reply.content).toBe('You said: First words');

    const conversation = await t.request({ method: 'GET', url: `/v1/conversations/${conversationId}`, headers: bearer(user.accessToken) });
    expect(conversation.statusCode).toBe(200);
    expect(json(conversation).message_count).toBe(2);
    expect(await messagesOf(user, conversationId)).toEqual([events[0]!.data.user_message, end.data.reply]);
  });

  it('streams through Fastify inject too (the path serverless adapters such as @fastify/aws-lambda take)', async () => {
    const { user, conversation } = await chattingUser(t);
    const answer = await Promise.race([
      sendMessage(t, user, conversation.id, { content: 'Through inject', stream: true }),
      sleep(5000).then(() => null),
    ]);
    expect(answer, 'the injected streaming request never answered').not.toBeNull();
    expect(answer!.statusCode).toBe(200);
    const events = parseSse(answer!.body);
    expect(events.map((e) => e.event)).toContain('message.start');
    expect(events.at(-1)!.data.reply.content).toBe('You said: Through inject');
  });

  it('reports a model failure after the stream began as an SSE error event, and stores the reply as failed', async () => {
    fake.fail({ kind: 'status', status: 500 }, { kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    const { user, conversation } = await chattingUser(t);
    const response = await streamed(`/v1/conversations/${conversation.id}/messages`, user, { content: 'Will this work?', stream: true });
    expect(response.status).toBe(200);
    const events = response.events;
    expect(events[0]!.event).toBe('message.start');
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: 'llm_unavailable' } });
    expect(events.some((e) => e.event === 'message.end')).toBe(false);
    const stored = await messagesOf(user, conversation.id);
    expect(stored.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'failed'],
    ]);
  });
});
