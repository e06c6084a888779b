// Idempotency-Key on chat turns (§6, §12): a repeated key replays the first answer and never
// calls the model twice; another body is refused; a key still running is refused; keys are per
// caller; a request refused before it started leaves the key free.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { chattingUser, fakeLlmEnv, listen, parseSse, sendMessage } from '../helpers/chat.js';
import { createIdempotency } from '../../src/features/chat/idempotency.js';
import { createScoped } from '../../src/db/scope.js';

let fake: FakeLlm;
let t: TestApp;
let base: string;

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url, { LLM_MAX_RETRIES: '0' }));
  base = await listen(t);
});
afterEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const newKey = () => `key-${randomBytes(8).toString('hex')}`;
const withKey = (key: string) => ({ 'idempotency-key': key });

const getConversation = async (user: RegisteredUser, id: string) =>
  json(await t.request({ method: 'GET', url: `/v1/conversations/${id}`, headers: bearer(user.accessToken) }));
const messagesOf = async (user: RegisteredUser, id: string) =>
  json(await t.request({ method: 'GET', url: `/v1/conversations/${id}/messages`, headers: bearer(user.accessToken) })).data as any[];
const chat = (user: RegisteredUser, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
  t.request({ method: 'POST', url: '/v1/chat', headers: { ...bearer(user.accessToken), ...headers }, payload });

/** A streamed answer read over a real socket. */
async function streamed(path: string, user: RegisteredUser, body: unknown, headers: Record<string, string>) {
  const response = await fetch(new URL(path, base), {
    method: 'POST',
    headers: { ...bearer(user.accessToken), 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, events: parseSse(await response.text()) };
}

describe('Idempotency-Key on POST /v1/conversations/{id}/messages', () => {
  it('replays the first answer for the same key and body, without calling the model again', async () => {
    const { user, conversation } = await chattingUser(t);
    const key = newKey();
    const first = await sendMessage(t, user, conversation.id, { content: 'Only once, please' }, withKey(key));
    expect(first.statusCode, first.body).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    const second = await sendMessage(t, user, conversation.id, { content: 'Only once, please' }, withKey(key));
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(json(second)).toEqual(json(first));
    expect(json(second).reply.id).toBe(json(first).reply.id);

    expect(fake.requests).toHaveLength(1);
    expect((await getConversation(user, conversation.id)).message_count).toBe(2);
    expect(await messagesOf(user, conversation.id)).toHaveLength(2);
  });

  it('replays the same request written differently: keys in another order, the id in upper case', async () => {
    const { user, conversation } = await chattingUser(t);
    const key = newKey();
    const post = (id: string, body: string) =>
      t.request({ method: 'POST', url: `/v1/conversations/${id}/messages`, headers: { ...bearer(user.accessToken), 'content-type': 'application/json', ...withKey(key) }, payload: body });
    const first = await post(conversation.id, JSON.stringify({ content: 'Same words', context: 'Same context' }));
    expect(first.statusCode, first.body).toBe(201);

    const reordered = await post(conversation.id, '{ "context": "Same context",\n  "content": "Same words" }');
    const upper = await post(conversation.id.toUpperCase(), JSON.stringify({ context: 'Same context', content: 'Same words' }));
    for (const again of [reordered, upper]) {
      expect(again.statusCode, again.body).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(json(again)).toEqual(json(first));
    }
    expect(fake.requests).toHaveLength(1);
    expect((await getConversation(user, conversation.id)).message_count).toBe(2);
  });

  it('refuses the same key with another body: 422 idempotency_key_reused, nothing stored', async () => {
    const { user, conversation } = await chattingUser(t);
    const key = newKey();
    expect((await sendMessage(t, user, conversation.id, { content: 'First body' }, withKey(key))).statusCode).toBe(201);
    const other = await sendMessage(t, user, conversation.id, { content: 'Second body' }, withKey(key));
    expect(other.statusCode).toBe(422);
    expect(other.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(other).code).toBe('idempotency_key_reused');
    expect(fake.requests).toHaveLength(1);
    expect((await getConversation(user, conversation.id)).message_count).toBe(2);
  });

  it('answers 409 idempotency_key_in_use while the first request with the key is still running', async () => {
    fake.setDelays({ firstTokenDelayMs: 800 });
    const { user, conversation } = await chattingUser(t);
    const key = newKey();
    const first = sendMessage(t, user, conversation.id, { content: 'Slowly now' }, withKey(key));
    await fake.waitFor((requests) => requests.length === 1);

    const again = await sendMessage(t, user, conversation.id, { content: 'Slowly now' }, withKey(key));
    expect(again.statusCode).toBe(409);
    expect(json(again).code).toBe('idempotency_key_in_use');

    const done = await first;
    expect(done.statusCode, done.body).toBe(201);
    const replay = await sendMessage(t, user, conversation.id, { content: 'Slowly now' }, withKey(key));
    expect(replay.statusCode).toBe(201);
    expect(json(replay)).toEqual(json(done));
    expect(fake.requests).toHaveLength(1);
  });

  it('keeps keys per user: another user with the same key and body gets an answer of their own', async () => {
    const alice = await registerUser(t);
    const bob = await registerUser(t);
    const key = newKey();
    const forAlice = await chat(alice, { message: 'Shared words' }, withKey(key));
    const forBob = await chat(bob, { message: 'Shared words' }, withKey(key));
    expect(forAlice.statusCode).toBe(201);
    expect(forBob.statusCode).toBe(201);
    expect(forBob.headers['idempotent-replayed']).toBeUndefined();
    expect(json(forBob).conversation_id).not.toBe(json(forAlice).conversation_id);
    expect(json(forBob).reply.id).not.toBe(json(forAlice).reply.id);
    expect(fake.requests).toHaveLength(2);
    // Bob's answer is his: Alice cannot read his conversation.
    const peek = await t.request({ method: 'GET', url: `/v1/conversations/${json(forBob).conversation_id}`, headers: bearer(alice.accessToken) });
    expect(peek.statusCode).toBe(404);
  });

  it('leaves the key usable after a request refused before it started (empty content 422)', async () => {
    const { user, conversation } = await chattingUser(t);
    const key = newKey();
    const empty = await sendMessage(t, user, conversation.id, { content: '   ' }, withKey(key));
    expect(empty.statusCode).toBe(422);
    expect(fake.requests).toHaveLength(0);

    const valid = await sendMessage(t, user, conversation.id, { content: 'Now for real' }, withKey(key));
    expect(valid.statusCode, valid.body).toBe(201);
    expect(valid.headers['idempotent-replayed']).toBeUndefined();
    expect(json(valid).reply.content).toBe('You said: Now for real');
    expect(fake.requests).toHaveLength(1);
  });

  it('leaves the key usable after a request refused for an unknown conversation (404)', async () => {
    const { user, conversation } = await chattingUser(t);
    const key = newKey();
    const missing = await sendMessage(t, user, '0190a4c2-0000-7000-8000-000000000000', { content: 'Hello?' }, withKey(key));
    expect(missing.statusCode).toBe(404);

    const valid = await sendMessage(t, user, conversation.id, { content: 'Hello?' }, withKey(key));
    expect(valid.statusCode, valid.body).toBe(201);
    expect(valid.headers['idempotent-replayed']).toBeUndefined();
    expect(fake.requests).toHaveLength(1);
  });

  it('replays a failed model call as the same 502 without calling the model again', async () => {
    fake.fail({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    const { user, conversation } = await chattingUser(t);
    const key = newKey();
    const failed = await sendMessage(t, user, conversation.id, { content: 'Is anyone home?' }, withKey(key));
    expect(failed.statusCode).toBe(502);
    expect(json(failed).code).toBe('llm_unavailable');
    expect(fake.requests).toHaveLength(1);

    const replay = await sendMessage(t, user, conversation.id, { content: 'Is anyone home?' }, withKey(key));
    expect(replay.statusCode).toBe(502);
    expect(replay.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(json(replay)).toEqual(json(failed));
    expect(fake.requests).toHaveLength(1);
    // One user message and its failed reply, not two of each.
    const stored = await messagesOf(user, conversation.id);
    expect(stored.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'failed'],
    ]);
  });

  it.each([
    ['a space', 'bad key'],
    ['a non-ASCII letter', 'clé-42'],
    ['256 characters', 'k'.repeat(256)],
    ['nothing', ''],
  ])('refuses a key with %s with 422 and does not call the model', async (_label, key) => {
    const { user, conversation } = await chattingUser(t);
    const response = await sendMessage(t, user, conversation.id, { content: 'Hello' }, withKey(key));
    expect(response.statusCode).toBe(422);
    expect(json(response).code).toBe('validation_failed');
    expect(fake.requests).toHaveLength(0);
    expect((await getConversation(user, conversation.id)).message_count).toBe(0);
  });

  it('accepts a key of exactly 255 visible characters', async () => {
    const { user, conversation } = await chattingUser(t);
    const response = await sendMessage(t, user, conversation.id, { content: 'Long key' }, withKey('K'.repeat(255)));
    expect(response.statusCode, response.body).toBe(201);
  });

  it('replays a streamed answer as events (start, the whole content as one delta, end) without calling the model', async () => {
    const { user, conversation } = await chattingUser(t);
    const key = newKey();
    const path = `/v1/conversations/${conversation.id}/messages`;
    const body = { content: 'Stream it twice', stream: true };
    const first = await streamed(path, user, body, withKey(key));
    expect(first.status).toBe(200);
    const firstEnd = first.events.at(-1)!;
    expect(firstEnd.event).toBe('message.end');

    const second = await streamed(path, user, body, withKey(key));
    expect(second.status).toBe(200);
    expect(second.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.events.map((e) => e.event)).toEqual(['message.start', 'message.delta', 'message.end']);
    const [start, firstStart] = [second.events[0]!.data, first.events[0]!.data];
    expect(start.reply_id).toBe(firstStart.reply_id);
    expect(start.user_message).toEqual(firstStart.user_message);
    expect.soft(start.conversation_id, 'the replayed message.start names the conversation, as the first did').toBe(conversation.id);
    expect(second.events[1]!.data).toEqual({ reply_id: firstEnd.data.reply.id, delta: firstEnd.data.reply.content });
    expect(second.events[2]!.data).toEqual(firstEnd.data);
    expect(fake.requests).toHaveLength(1);
    expect((await getConversation(user, conversation.id)).message_count).toBe(2);
  });
});

describe('Idempotency-Key on POST /v1/chat', () => {
  it('replays with the same conversation_id and creates no second conversation', async () => {
    const user = await registerUser(t);
    const key = newKey();
    const first = await chat(user, { message: 'Start something' }, withKey(key));
    expect(first.statusCode, first.body).toBe(201);
    const second = await chat(user, { message: 'Start something' }, withKey(key));
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(json(second)).toEqual(json(first));
    expect(json(second).conversation_id).toBe(json(first).conversation_id);
    expect(fake.requests).toHaveLength(1);

    const list = json(await t.request({ method: 'GET', url: '/v1/conversations', headers: bearer(user.accessToken) }));
    expect(list.data.map((c: any) => c.id)).toEqual([json(first).conversation_id]);
    expect(list.data[0].message_count).toBe(2);
  });
});

describe('one Idempotency-Key sent many times at once, to two instances of one database', () => {
  let second: TestApp;
  beforeAll(async () => {
    second = await createTestApp(fakeLlmEnv(fake.url, { LLM_MAX_RETRIES: '0', JWT_SECRET: t.config.jwtSecret }), { sharedWith: t });
  });
  afterAll(async () => {
    await second?.app.close();
  });

  it('calls the model once and stores one turn; every other request is refused as in use or replays that answer', async () => {
    fake.setDelays({ firstTokenDelayMs: 50 });
    const { user, conversation } = await chattingUser(t);
    const key = newKey();
    const burst = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        (i % 2 === 0 ? t : second).request({
          method: 'POST',
          url: `/v1/conversations/${conversation.id}/messages`,
          headers: { ...bearer(user.accessToken), ...withKey(key) },
          payload: { content: 'Exactly once' },
        }),
      ),
    );
    const answered = burst.filter((response) => response.statusCode === 201);
    const refused = burst.filter((response) => response.statusCode !== 201);
    expect(answered.length).toBeGreaterThanOrEqual(1);
    expect(new Set(answered.map((response) => json(response).reply.id)).size).toBe(1);
    expect(refused.map((response) => json(response).code)).toEqual(refused.map(() => 'idempotency_key_in_use'));
    expect(fake.requests).toHaveLength(1);
    expect(await messagesOf(user, conversation.id)).toHaveLength(2);
  });
});

describe('a key 24 hours on', () => {
  // The hourly sweep's own statement (compose-turns.ts runs it), on this database and as the request role.
  const sweep = () => createIdempotency(createScoped(t.database.app)).sweep();
  const stored = async (key: string) => (await t.database.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM idempotency_keys WHERE key = $1', [key]))[0]?.n;

  it('is swept with the answer it kept, while a younger key stays and still replays', async () => {
    const { user, conversation } = await chattingUser(t);
    const old = newKey();
    const young = newKey();
    const first = await sendMessage(t, user, conversation.id, { content: 'A reply to forget' }, withKey(old));
    expect(first.statusCode).toBe(201);
    const kept = await sendMessage(t, user, conversation.id, { content: 'A reply to keep' }, withKey(young));
    expect(kept.statusCode).toBe(201);
    await t.database.sql.query("UPDATE idempotency_keys SET created_at = created_at - interval '25 hours', expires_at = now() - interval '1 hour' WHERE key = $1", [old]);

    expect(await sweep()).toBeGreaterThanOrEqual(1);
    expect(await stored(old)).toBe(0);
    expect(await stored(young)).toBe(1);
    const replayed = await sendMessage(t, user, conversation.id, { content: 'A reply to keep' }, withKey(young));
    expect(json(replayed).reply.id).toBe(json(kept).reply.id);
    // The swept key is free: another message with it is a turn of its own.
    const again = await sendMessage(t, user, conversation.id, { content: 'Something else' }, withKey(old));
    expect(again.statusCode).toBe(201);
    expect(json(again).reply.id).not.toBe(json(first).reply.id);
  });
});
