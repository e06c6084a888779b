// A server killed mid-turn (SIGKILL: out of memory, a supervisor's kill, the machine lost). Found
// by killing one while a reply was being generated and another request had committed after it:
// restarted on the same folder, the conversation answered 409 conversation_busy ("a reply is
// still being generated") for two minutes, and its message was left without a reply for good.
// Now the replies cut short are stored at start (`failed`, error `server_stopped`) and their
// conversations are free at once; every reply a client was given survives the kill.
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/cli-token.js';
import { storeCutTurns } from '../../src/features/chat/cut-turns.js';
import { createScoped } from '../../src/db/scope.js';
import { newId } from '../../src/lib/ids.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json } from '../helpers/app.js';
import { createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { cliProcesses } from '../helpers/cli-process.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { freePort } from '../helpers/ports.js';
import { call, conversation, register, streamMessage, until } from '../instances/cluster.js';

const SECRET = 'a-shared-secret-of-16-bytes-or-more';
const cli = cliProcesses();
let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterEach(() => fake.reset());
afterAll(async () => {
  cli.cleanUp();
  await fake?.close();
});

async function serve(dataDir: string) {
  const port = await freePort();
  const env = { DATA_DIR: dataDir, PORT: String(port), LLM_PROVIDER: 'openai-compatible', LLM_BASE_URL: fake.url, LLM_MODEL: 'fake-model', EXTERNAL_JWT_SECRET: SECRET };
  const server = cli.start(['serve'], env, { prefix: 'parley-killed-' });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (await fetch(`${base}/health`).then((r) => r.ok, () => false)) return { ...server, base };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the server did not start: ${server.stderr()}`);
}

function client(base: string, token: string) {
  return async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
}

describe('a server killed while replies are generated, started again on its folder', () => {
  it('keeps every reply it gave, stores the cut ones as failed, and frees their conversations at once', { timeout: 120_000 }, async () => {
    const dataDir = join(cli.tempDir('parley-killed-data-'), 'data');
    const token = await mintToken(['--user-id', 'killed-1', '--username', 'killed'], { EXTERNAL_JWT_SECRET: SECRET });
    const first = await serve(dataDir);
    let call = client(first.base, token);

    const given: Array<{ conversation: string; reply: string }> = [];
    for (let i = 0; i < 5; i++) {
      const conversation = (await call('POST', '/v1/conversations', {})).body.id as string;
      const answer = await call('POST', `/v1/conversations/${conversation}/messages`, { content: `Question ${i}` });
      expect(answer.status).toBe(201);
      given.push({ conversation, reply: answer.body.reply.id });
    }
    const regenerated = given[0]!.conversation;
    const asked = (await call('POST', '/v1/conversations', {})).body.id as string;

    // Two replies under way when the process dies: a message's, and a regenerate's.
    fake.setDelays({ firstTokenDelayMs: 60_000 });
    void call('POST', `/v1/conversations/${asked}/messages`, { content: 'Will this one survive?' }).catch(() => {});
    void call('POST', `/v1/conversations/${regenerated}/regenerate`).catch(() => {});
    await fake.waitFor((requests) => requests.length === 7, 10_000);
    // Something else commits after them, as on any server with more than one user.
    expect((await call('POST', '/v1/conversations', {})).status).toBe(201);
    first.child.kill('SIGKILL');
    await first.exited;

    fake.setDelays({ firstTokenDelayMs: 0 });
    const second = await serve(dataDir);
    call = client(second.base, token);
    for (const { conversation, reply } of given) {
      const messages = (await call('GET', `/v1/conversations/${conversation}/messages`)).body.data as any[];
      expect(messages.map((m) => [m.role, m.status])).toEqual([['user', 'complete'], ['assistant', 'complete']]);
      expect(messages[1].id).toBe(reply);
    }
    const cut = (await call('GET', `/v1/conversations/${asked}/messages`)).body.data as any[];
    expect(cut.map((m) => [m.role, m.content, m.status, m.error ?? null])).toEqual([
      ['user', 'Will this one survive?', 'complete', null],
      ['assistant', '', 'failed', 'server_stopped'],
    ]);
    expect(second.stdout()).toMatch(/"level":40.*"conversations":2.*cut short/);

    // Both conversations take turns at once, not two minutes later.
    const again = await call('POST', `/v1/conversations/${asked}/messages`, { content: 'And now?' });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect((await call('GET', `/v1/conversations/${asked}`)).body.message_count).toBe(4);
    const regenerate = await call('POST', `/v1/conversations/${regenerated}/regenerate`);
    expect(regenerate.status, JSON.stringify(regenerate.body)).toBe(201);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('keeps, as the interrupted reply, the text a stream had sent up to its last moments', { timeout: 60_000 }, async () => {
    const dataDir = join(cli.tempDir('parley-killed-stream-'), 'data');
    const first = await serve(dataDir);
    const account = await register(first.base);
    const id = await conversation(first.base, account);
    fake.setReply(() => Array.from({ length: 400 }, (_, i) => `word${i}`).join(' '));
    fake.setDelays({ chunkDelayMs: 50 });
    const stream = streamMessage(first.base, account, id, 'Talk for a while');
    const deltas = () => stream.events.filter((e) => e.event === 'message.delta');
    await until(() => deltas().length >= 10, 'some text');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const seen = deltas().map((e) => e.data.delta as string).join('');
    // Something else commits after it, as on any server with more than one user.
    expect((await call(first.base, 'POST', '/v1/conversations', { token: account.token, body: {} })).status).toBe(201);
    first.child.kill('SIGKILL');
    await first.exited;
    fake.reset();

    const second = await serve(dataDir);
    const messages = (await call(second.base, 'GET', `/v1/conversations/${id}/messages`, { token: account.token })).body.data as any[];
    expect(messages.map((m) => [m.role, m.status, m.error ?? null])).toEqual([['user', 'complete', null], ['assistant', 'interrupted', 'server_stopped']]);
    const kept = messages[1].content as string;
    expect(seen.startsWith(kept), `kept ${JSON.stringify(kept.slice(-40))} of ${JSON.stringify(seen.slice(-40))}`).toBe(true);
    expect(kept.split(' ').length).toBeGreaterThanOrEqual(10);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});

describe('on PostgreSQL, where other instances may be mid-turn', () => {
  it('stores only the turns whose lease ran out, and leaves the held ones alone', async () => {
    const t = await createTestApp(fakeLlmEnv(fake.url));
    try {
      const user = await registerUser(t);
      const lapsed = await createConversation(t, user);
      const held = await createConversation(t, user);
      for (const conversation of [lapsed, held]) expect((await sendMessage(t, user, conversation.id, { content: 'Hello' })).statusCode).toBe(201);
      // As a begin() leaves them: a user message stored, the conversation held for its reply.
      const hold = async (conversationId: string, until: string, messageId: string, replyId: string) => {
        await t.database.sql.query(
          `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at) VALUES ($1, $2, $3, 'user', 'Cut short?', 'complete', 3, now())`,
          [messageId, conversationId, user.id],
        );
        await t.database.sql.query(
          `UPDATE conversations SET message_count = message_count + 1, busy_reply_id = $2, busy_text = 'So far', busy_until = now() + $3::interval WHERE id = $1`,
          [conversationId, replyId, until],
        );
      };
      // Ids in time order, as begin() makes them: the message, then its reply.
      const cutReply = [newId(), newId()] as const;
      await hold(lapsed.id, '-1 second', ...cutReply);
      await hold(held.id, '2 minutes', newId(), newId());

      expect(await storeCutTurns(createScoped(t.database.app), { everyHold: false, countTokens: () => 2 })).toBe(1);
      const messages = json(await t.request({ method: 'GET', url: `/v1/conversations/${lapsed.id}/messages`, headers: bearer(user.accessToken) })).data as any[];
      expect(messages.at(-1)).toMatchObject({ id: cutReply[1], role: 'assistant', content: 'So far', status: 'interrupted', error: 'server_stopped' });
      expect((await sendMessage(t, user, lapsed.id, { content: 'Free again?' })).statusCode).toBe(201);
      expect((await sendMessage(t, user, held.id, { content: 'Still held?' })).statusCode).toBe(409);
    } finally {
      await t.close();
    }
  });
});

// An instance cut off from the database past the lease (a network partition, a frozen VM), or
// killed while the others run on: its holds lapse, and no instance starts to store their replies.
// Every instance sweeps lapsed holds as it runs (CUT_TURNS_SWEEP_MS). A turn still alive when
// its hold was swept ends into the reply the sweep stored: its own reply takes that one's place.
describe('while the server runs', () => {
  it('stores a lapsed hold as cut short, and a turn that was only late still ends with its own reply in that place', { timeout: 30_000 }, async () => {
    const t = await createTestApp(fakeLlmEnv(fake.url, { CUT_TURNS_SWEEP_MS: '100' }));
    try {
      const user = await registerUser(t);
      const conversation = await createConversation(t, user);
      fake.setDelays({ firstTokenDelayMs: 5_000 });
      const late = sendMessage(t, user, conversation.id, { content: 'Are you still there?' });
      await fake.waitFor((requests) => requests.length === 1);
      // As the hold stands once its instance has not renewed it for the lease's length.
      await t.database.sql.query(`UPDATE conversations SET busy_until = now() - interval '1 second' WHERE id = $1`, [conversation.id]);

      const read = async () => json(await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/messages`, headers: bearer(user.accessToken) })).data as any[];
      let messages = await read();
      for (let i = 0; i < 50 && messages.length < 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        messages = await read();
      }
      expect(messages.map((m) => [m.role, m.status, m.error ?? null])).toEqual([['user', 'complete', null], ['assistant', 'failed', 'server_stopped']]);
      expect(t.logs.join('')).toMatch(/"conversations":1.*cut short/);

      const answered = await late;
      fake.setDelays({ firstTokenDelayMs: 0 });
      expect(answered.statusCode, answered.body).toBe(201);
      const reply = json(answered).reply as { id: string; content: string; status: string };
      expect(reply.status).toBe('complete');
      expect(reply.id).toBe(messages[1].id);
      const after = await read();
      expect(after.map((m) => [m.id, m.role, m.content, m.status, m.error ?? null])).toEqual([
        [messages[0].id, 'user', 'Are you still there?', 'complete', null],
        [reply.id, 'assistant', reply.content, 'complete', null],
      ]);
      expect(json(await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}`, headers: bearer(user.accessToken) })).message_count).toBe(2);
      expect((await sendMessage(t, user, conversation.id, { content: 'And now?' })).statusCode).toBe(201);
    } finally {
      await t.close();
    }
  });
});
