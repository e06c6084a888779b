// Stop and resume on the AI SDK channel (§8), with the real clients: aborting the request (what
// useChat's stop does) keeps the partial reply `interrupted`; POST /v1/conversations/{id}/stop
// ends it too; GET /v1/ai-sdk/chat/{id}/stream answers 204 when nothing runs, else the running
// reply from `start` with the same message id and the whole text — also from a second instance
// sharing only the database.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { fakeLlmEnv, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { type Chunk, client, type ClientName, CLIENTS, collect, conversationOf, messageIdOf, textOf, until, userMessage } from './clients.js';

let llm: FakeLlm;
let t: TestApp;
let second: TestApp;
let base: string;
let secondBase: string;
let owner: RegisteredUser;

beforeAll(async () => {
  llm = await startFakeLlm();
  // One secret for both instances: a token signed by one is accepted by the other, as behind a load balancer.
  const env = fakeLlmEnv(llm.url, { JWT_SECRET: randomBytes(48).toString('base64url') });
  t = await createTestApp(env);
  second = await createTestApp(env, { sharedWith: t });
  base = await listen(t);
  secondBase = await listen(second);
  owner = await registerUser(t);
});
afterEach(() => llm.reset());
afterAll(async () => {
  await second?.close();
  await t?.close();
  await llm?.close();
});

const chatId = () => `chat_${randomBytes(6).toString('hex')}`;
const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');
const messagesOf = async (conversationId: string) => {
  const response = await t.request({ method: 'GET', url: `/v1/conversations/${conversationId}/messages`, headers: bearer(owner.accessToken) });
  return json(response).data as Array<{ id: string; role: string; content: string; status: string }>;
};
const deltas = (chunks: Chunk[]) => chunks.filter((chunk) => chunk.type === 'text-delta').length;

/** A slow reply (a word every `everyMs`), started through the client; resolves once `minDeltas` arrived. */
async function slowTurn(name: ClientName, id: string, options: { words?: number; everyMs?: number; minDeltas?: number; abort?: AbortController } = {}) {
  const reply = words(options.words ?? 30);
  llm.setReply(() => reply);
  llm.setDelays({ chunkDelayMs: options.everyMs ?? 60 });
  const c = client(name, base, { headers: bearer(owner.accessToken) });
  const seen: Chunk[] = [];
  const stream = await c.send({ chatId: id, messages: [userMessage('talk slowly')], abortSignal: options.abort?.signal });
  const all = collect(stream, (chunk) => seen.push(chunk));
  all.catch(() => {});
  await until(() => deltas(seen) >= (options.minDeltas ?? 3), 'the first deltas');
  return { c, reply, seen, all };
}

describe('stop', () => {
  it.each(CLIENTS)('%s: aborting the request keeps the partial reply as interrupted', async (name) => {
    const abort = new AbortController();
    const { seen, reply, all } = await slowTurn(name, chatId(), { abort, words: 60, everyMs: 80 });
    abort.abort();
    await expect(all).rejects.toThrow();
    const conversationId = conversationOf(seen);
    const stored = await until(async () => {
      const messages = await messagesOf(conversationId);
      return messages.length === 2 ? messages : null;
    }, 'the interrupted reply');
    expect(stored[1]).toMatchObject({ role: 'assistant', status: 'interrupted' });
    expect(stored[1]!.id).toBe(messageIdOf(seen));
    expect(stored[1]!.content.length).toBeGreaterThan(0);
    expect(reply.startsWith(stored[1]!.content)).toBe(true);
    expect(stored[1]!.content.length).toBeLessThan(reply.length);
    await until(() => llm.requests[0]?.closedAt != null, 'the model call to end');
    expect(llm.requests[0]!.aborted).toBe(true);
  });

  it('POST /v1/conversations/{id}/stop ends the reply; the stream finishes and the reply is interrupted', async () => {
    const { seen, all, c, reply } = await slowTurn('ai5', chatId(), { words: 60, everyMs: 80 });
    const conversationId = conversationOf(seen);
    const stop = await t.request({ method: 'POST', url: `/v1/conversations/${conversationId}/stop`, headers: bearer(owner.accessToken) });
    expect(json(stop)).toEqual({ stopped: true });
    const chunks = await all;
    const message = await c.assemble(chunks);
    expect(chunks.at(-1)).toEqual({ type: 'finish' });
    expect(message.metadata).toMatchObject({ status: 'interrupted' });
    const stored = await messagesOf(conversationId);
    expect(stored[1]).toMatchObject({ id: message.id, status: 'interrupted', content: textOf(message) });
    expect(textOf(message).length).toBeLessThan(reply.length);
  });
});

describe('resume', () => {
  it.each(CLIENTS)('%s: 204 when nothing runs: a chat id never used, and a chat whose reply is stored', async (name) => {
    const c = client(name, base, { headers: bearer(owner.accessToken) });
    const before = { conversations: await t.count('conversations'), chatbots: await t.count('chatbots') };
    expect(await c.reconnect(chatId())).toBeNull();
    // Asking after a chat id never used creates nothing.
    expect({ conversations: await t.count('conversations'), chatbots: await t.count('chatbots') }).toEqual(before);
    const id = chatId();
    await collect(await c.send({ chatId: id, messages: [userMessage('quick')] }));
    expect(await c.reconnect(id)).toBeNull();
    const raw = await fetch(`${base}/v1/ai-sdk/chat/${id}/stream`, { headers: bearer(owner.accessToken) });
    expect(raw.status).toBe(204);
  });

  it.each(CLIENTS)('%s: mid-reply, on the same instance: from start, same message id, the whole text', async (name) => {
    const id = chatId();
    const { seen, all, reply } = await slowTurn(name, id);
    const resumed = await client(name, base, { headers: bearer(owner.accessToken) }).reconnect(id);
    expect(resumed).not.toBeNull();
    const chunks = await collect(resumed!);
    // What the resumed stream sent first is the text so far, a part of the reply.
    const first = chunks.find((chunk) => chunk.type === 'text-delta') as { delta: string } | undefined;
    expect(reply.startsWith(first!.delta)).toBe(true);
    const message = await client(name, base).assemble(chunks);
    expect(chunks.slice(0, 4).map((chunk) => chunk.type)).toEqual(['start', 'message-metadata', 'start-step', 'text-start']);
    expect(chunks[0]).toEqual({ type: 'start', messageId: messageIdOf(seen) });
    expect(textOf(message)).toBe(reply);
    expect(chunks.at(-1)).toEqual({ type: 'finish' });
    const original = await client(name, base).assemble(await all);
    expect(textOf(original)).toBe(reply);
    expect(message.id).toBe(original.id);
    const stored = await messagesOf(conversationOf(seen));
    expect(stored[1]).toMatchObject({ id: message.id, content: reply, status: 'complete' });
  });

  it.each(CLIENTS)('%s: mid-reply, from a second instance sharing only the database', async (name) => {
    const id = chatId();
    const { seen, all, reply } = await slowTurn(name, id, { minDeltas: 5 });
    const elsewhere = client(name, secondBase, { headers: bearer(owner.accessToken) });
    const resumed = await elsewhere.reconnect(id);
    expect(resumed).not.toBeNull();
    const chunks = await collect(resumed!);
    const message = await elsewhere.assemble(chunks);
    expect(message.id).toBe(messageIdOf(seen));
    expect(textOf(message)).toBe(reply);
    // The text so far comes first, then the rest as the other instance produces it.
    expect(deltas(chunks)).toBeGreaterThan(1);
    await all;
  });

  it('the resumed stream has the protocol headers', async () => {
    const id = chatId();
    const { all } = await slowTurn('ai6', id, { words: 15 });
    const response = await fetch(`${secondBase}/v1/ai-sdk/chat/${id}/stream`, { headers: bearer(owner.accessToken) });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    const body = await response.text();
    expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    await all;
  });

  it('a resumed reader that leaves does not stop the reply', async () => {
    const id = chatId();
    const { all, reply } = await slowTurn('ai6', id, { words: 20 });
    const resumed = (await client('ai6', secondBase, { headers: bearer(owner.accessToken) }).reconnect(id))!;
    const reader = resumed.getReader();
    await reader.read();
    await reader.cancel();
    const chunks = await all;
    expect(textOf(await client('ai6', base).assemble(chunks))).toBe(reply);
  });

  it('a chat id no chat can have (a NUL, a lone surrogate) is refused like the same id in a body, 422, and nothing breaks', async () => {
    for (const id of ['%00', 'chat%00x', 'x%ED%A0%80']) {
      const response = await fetch(`${base}/v1/ai-sdk/chat/${id}/stream`, { headers: bearer(owner.accessToken) });
      const body = await response.text();
      expect([400, 422], `${id}: ${response.status} ${body}`).toContain(response.status);
      expect(response.headers.get('content-type'), id).toMatch(/^application\/problem\+json/);
    }
    const sent = await fetch(`${base}/v1/ai-sdk/chat`, {
      method: 'POST',
      headers: { ...bearer(owner.accessToken), 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'chat\u0000x', messages: [userMessage('hello')] }),
    });
    expect(sent.status, await sent.text()).toBe(422);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('another user, same chat id: 204 (their chat is another conversation)', async () => {
    const id = chatId();
    const { all } = await slowTurn('ai6', id, { words: 15 });
    const other = await registerUser(t);
    expect(await client('ai6', base, { headers: bearer(other.accessToken) }).reconnect(id)).toBeNull();
    await all;
  });

  it('a stop sent to the second instance ends the reply; the resumed stream there finishes with what was produced', async () => {
    const id = chatId();
    const { seen, all, reply } = await slowTurn('ai5', id, { words: 60, everyMs: 80 });
    const elsewhere = client('ai5', secondBase, { headers: bearer(owner.accessToken) });
    const resumed = collect((await elsewhere.reconnect(id))!);
    const stop = await second.request({ method: 'POST', url: `/v1/conversations/${conversationOf(seen)}/stop`, headers: bearer(owner.accessToken) });
    expect(json(stop)).toEqual({ stopped: true });
    const message = await elsewhere.assemble(await resumed);
    expect(message.metadata).toMatchObject({ status: 'interrupted' });
    const original = await elsewhere.assemble(await all);
    expect(textOf(message)).toBe(textOf(original));
    expect(textOf(message).length).toBeLessThan(reply.length);
    expect((await messagesOf(conversationOf(seen)))[1]).toMatchObject({ id: message.id, status: 'interrupted', content: textOf(message) });
  });

  it('a reply that fails while resumed ends the resumed stream with an error the client reports', async () => {
    const id = chatId();
    llm.fail({ kind: 'stream-error', afterChunks: 12 });
    const { all } = await slowTurn('ai6', id, { words: 30, everyMs: 60, minDeltas: 2 });
    const elsewhere = client('ai6', secondBase, { headers: bearer(owner.accessToken) });
    const chunks = await collect((await elsewhere.reconnect(id))!);
    expect(chunks.at(-1)).toEqual({ type: 'error', errorText: expect.stringContaining('could not answer') });
    await expect(elsewhere.assemble(chunks)).rejects.toThrow(/could not answer/);
    await all;
  });

  it('shutting down an instance ends its resumed streams of replies running elsewhere, at once', async () => {
    const third = await createTestApp(fakeLlmEnv(llm.url, { JWT_SECRET: t.config.jwtSecret }), { sharedWith: t });
    const thirdBase = await listen(third);
    const id = chatId();
    const { all, reply } = await slowTurn('ai6', id, { words: 60, everyMs: 80 });
    const follower = client('ai6', thirdBase, { headers: bearer(owner.accessToken) });
    const seen: Chunk[] = [];
    const resumed = collect((await follower.reconnect(id))!, (chunk) => seen.push(chunk));
    await until(() => seen.length > 0, 'the resumed start');
    const started = Date.now();
    await third.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    const chunks = await resumed;
    expect(chunks.at(-1)).toEqual({ type: 'error', errorText: expect.stringContaining('shutting down') });
    // The reply itself, on the first instance, goes on to the end.
    expect(textOf(await follower.assemble(await all))).toBe(reply);
  });
});
