// The database going away while replies are being stored (§6, §11, §12): the generated replies
// are not lost — they are stored once the database is back — and no conversation stays busy.
// A TCP proxy between Parley and PostgreSQL cuts every connection and refuses new ones, as a
// failover or a pooler restart does. PGlite runs inside the process and cannot be cut this way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { proxiedDatabase, type ProxiedDatabase } from '../helpers/proxied-database.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';

const url = process.env.TEST_DATABASE_URL;

describe.runIf(url)('PostgreSQL cut while replies are stored', () => {
  let cut: ProxiedDatabase;
  let admin: Database;
  let schema: string;
  let proxy: TcpProxy;
  let fake: FakeLlm;
  let t: TestApp;

  beforeAll(async () => {
    cut = await proxiedDatabase(url!, 'outage');
    ({ admin, schema, proxy } = cut);
    fake = await startFakeLlm();
    t = await createTestApp(fakeLlmEnv(fake.url), { database: cut.database });
  });
  afterAll(async () => {
    proxy?.refuse(false);
    await t?.app.close();
    await cut?.close();
    await fake?.close();
  });

  it('stores every generated reply when the database is back, and frees every conversation', { timeout: 60_000 }, async () => {
    const user = await registerUser(t);
    const conversations = await Promise.all(Array.from({ length: 10 }, () => createConversation(t, user)));
    fake.setDelays({ firstTokenDelayMs: 400 });
    const answers = Promise.all(conversations.map((c, i) => sendMessage(t, user, c.id, { content: `question ${i}` })));
    await fake.waitFor((requests) => requests.length === 10, 10_000);

    // Every connection cut, new ones refused, while the model is still answering.
    proxy.refuse(true);
    proxy.resetAll();
    const during = await answers;
    for (const answer of during) {
      expect(answer.statusCode, answer.body).toBe(503);
      expect(json(answer).code).toBe('database_unavailable');
    }
    proxy.refuse(false);

    // The replies arrive in the database by themselves, complete, and the conversations are free.
    const deadline = Date.now() + 30_000;
    let stored: Array<{ conversation_id: string; status: string; content: string; busy: boolean }> = [];
    while (Date.now() < deadline) {
      stored = await admin.sql.query(
        `SELECT c.id AS conversation_id, m.status, m.content, (c.busy_until IS NOT NULL AND c.busy_until > now()) AS busy
           FROM ${schema}.conversations c JOIN ${schema}.messages m ON m.conversation_id = c.id AND m.role = 'assistant'
          WHERE c.user_id = $1`,
        [user.id],
      );
      if (stored.length === 10 && stored.every((row) => !row.busy)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(stored).toHaveLength(10);
    for (const row of stored) expect(row).toMatchObject({ status: 'complete', busy: false });
    expect(stored.map((row) => row.content).sort()).toEqual(conversations.map((_, i) => `You said: question ${i}`).sort());

    fake.setDelays({ firstTokenDelayMs: 0 });
    const next = await sendMessage(t, user, conversations[0]!.id, { content: 'and now?' });
    expect(next.statusCode, next.body).toBe(201);
  });

  it('a chat completion answered while the database is cut keeps its answer, and its usage is written once the database is back', { timeout: 60_000 }, async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { name: 'Outage desk' });
    const key = await createApiKey(t, user, bot.id);
    fake.setDelays({ firstTokenDelayMs: 400 });
    const answer = t.request({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${key.key}` }, payload: { model: bot.slug, messages: [{ role: 'user', content: 'count me later' }] } });
    await fake.waitFor((requests) => requests.some((r) => JSON.stringify(r.messages).includes('count me later')), 10_000);
    proxy.refuse(true);
    proxy.resetAll();
    const answered = await answer;
    expect(answered.statusCode, answered.body).toBe(200);
    const usage = json(answered).usage as { prompt_tokens: number; completion_tokens: number };
    expect(json(answered).choices[0].message.content).toBe('You said: count me later');
    fake.setDelays({ firstTokenDelayMs: 0 });
    proxy.refuse(false);

    const deadline = Date.now() + 30_000;
    let counted: { messages: number; tokens: number } = { messages: 0, tokens: 0 };
    while (Date.now() < deadline) {
      const rows = await admin.sql.query<{ messages: number | null; tokens: number | null }>(
        `SELECT sum(messages)::int AS messages, sum(prompt_tokens + completion_tokens)::int AS tokens FROM ${schema}.usage_daily WHERE chatbot_id = $1`,
        [bot.id],
      );
      counted = { messages: Number(rows[0]?.messages ?? 0), tokens: Number(rows[0]?.tokens ?? 0) };
      if (counted.messages > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(counted).toEqual({ messages: 1, tokens: usage.prompt_tokens + usage.completion_tokens });
  });

  it('undoes a turn start that reached the database while its answer was cut: nothing left behind, not busy', { timeout: 60_000 }, async () => {
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    let orphan = 0;
    // Another transaction holds the conversation's row, so the turn's first statement waits
    // inside PostgreSQL; the connection is cut meanwhile, and the statement then goes on and
    // commits, its answer lost: the client hears 503, the database has the turn's start.
    await admin.sql.transaction(async (tx) => {
      await tx.query(`SELECT 1 FROM ${schema}.conversations WHERE id = $1 FOR UPDATE`, [conversation.id]);
      const answer = sendMessage(t, user, conversation.id, { content: 'lost in the cut' });
      // Exactly the statement this transaction blocks (other test files share the server).
      const deadline = Date.now() + 10_000;
      let blocked: number[] = [];
      while (blocked.length === 0 && Date.now() < deadline) {
        const rows = await tx.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))');
        blocked = rows.map((row) => Number(row.pid));
        if (blocked.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(blocked, 'the turn start waits behind the held row').toHaveLength(1);
      orphan = blocked[0]!;
      proxy.resetAll();
      const cut = await answer;
      expect(cut.statusCode, cut.body).toBe(503);
      expect(json(cut).code).toBe('database_unavailable');
    });

    // The start runs to its end once the row is free, its answer going nowhere: wait until its
    // session is gone, so what follows sees what the start did (and its undoing).
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const rows = await admin.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [orphan]);
      if (Number(rows[0]!.n) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The refused turn leaves nothing: no message, no lock, once the database answers again.
    let state: { messages: number; busy: boolean; count: number } = { messages: -1, busy: true, count: -1 };
    while (Date.now() < deadline) {
      const rows = await admin.sql.query<{ messages: number; busy: boolean; count: number }>(
        `SELECT (SELECT count(*)::int FROM ${schema}.messages WHERE conversation_id = c.id) AS messages,
                c.busy_reply_id IS NOT NULL AS busy, c.message_count AS count
           FROM ${schema}.conversations c WHERE c.id = $1`,
        [conversation.id],
      );
      state = rows[0]!;
      if (state.messages === 0 && !state.busy) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(state).toEqual({ messages: 0, busy: false, count: 0 });
    const next = await sendMessage(t, user, conversation.id, { content: 'and now?' });
    expect(next.statusCode, next.body).toBe(201);
    const listed = json(await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/messages`, headers: { authorization: `Bearer ${user.accessToken}` } }));
    expect(listed.data.map((m: { content: string }) => m.content)).toEqual(['and now?', 'You said: and now?']);
  });
});
