// A chat completion of a chatbot with a monthly budget, answered by the model while PostgreSQL
// was cut (a failover, a pooler restart). Its usage is written before the answer goes out, and
// that write failing threw the answer away: the client got 503 `database_unavailable`, which the
// OpenAI SDKs retry (each retry a new, billed model call once the database is back), and the
// tokens the model had used were never counted against the budget at all. An unbudgeted chatbot
// already kept its answer and wrote its usage once the database was back
// (test/chat/database-outage.test.ts); a budgeted one now does the same. PGlite runs inside the
// process and cannot be cut this way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, fakeLlmEnv } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { proxiedDatabase, type ProxiedDatabase } from '../helpers/proxied-database.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';

const url = process.env.TEST_DATABASE_URL;

describe.runIf(url)('a budgeted chatbot\'s completion while PostgreSQL is cut', () => {
  let cut: ProxiedDatabase;
  let admin: Database;
  let schema: string;
  let proxy: TcpProxy;
  let fake: FakeLlm;
  let t: TestApp;

  beforeAll(async () => {
    cut = await proxiedDatabase(url!, 'budget_cut');
    ({ admin, schema, proxy } = cut);
    fake = await startFakeLlm();
    t = await createTestApp(fakeLlmEnv(fake.url), { database: cut.database });
  }, 60_000);
  afterAll(async () => {
    proxy?.refuse(false);
    await t?.app.close();
    await cut?.close();
    await fake?.close();
  });

  /** A streamed answer ends as a success (finish_reason, usage, [DONE]), not with an error frame. */
  const streamedAnswer = (body: string) => {
    const data = body.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6));
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((line) => JSON.parse(line));
    expect(chunks.some((chunk) => 'error' in chunk)).toBe(false);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('')).toBe('You said: budgeted and cut');
    return chunks.at(-1).usage as { prompt_tokens: number; completion_tokens: number };
  };

  const countedFor = async (chatbotId: string) => {
    const rows = await admin.sql.query<{ messages: number | null; tokens: number | null }>(
      `SELECT sum(messages)::int AS messages, sum(prompt_tokens + completion_tokens)::int AS tokens FROM ${schema}.usage_daily WHERE chatbot_id = $1`,
      [chatbotId],
    );
    return { messages: Number(rows[0]?.messages ?? 0), tokens: Number(rows[0]?.tokens ?? 0) };
  };

  it.each([false, true])('keeps its answer (stream: %s), and its usage counts against the budget once the database is back', { timeout: 60_000 }, async (stream) => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: `Budgeted outage desk ${stream}`, token_budget_monthly: 100_000 });
    const key = await createApiKey(t, owner, bot.id);
    fake.setDelays({ firstTokenDelayMs: 400 });
    const pending = t.request({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${key.key}` },
      payload: { model: bot.slug, messages: [{ role: 'user', content: 'budgeted and cut' }], stream, stream_options: { include_usage: true } },
    });
    await fake.waitFor((requests) => requests.some((r) => JSON.stringify(r.messages).includes('budgeted and cut')), 10_000);
    proxy.refuse(true);
    proxy.resetAll();
    const answered = await pending;
    fake.setDelays({ firstTokenDelayMs: 0 });
    proxy.refuse(false);

    // The model answered and was paid for: the client has that answer, not a 503 to retry.
    expect(answered.statusCode, answered.body).toBe(200);
    const usage = stream ? streamedAnswer(answered.body) : (json(answered).usage as { prompt_tokens: number; completion_tokens: number });
    if (!stream) expect(json(answered).choices[0].message.content).toBe('You said: budgeted and cut');

    const deadline = Date.now() + 30_000;
    let counted = await countedFor(bot.id);
    while (counted.messages === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      counted = await countedFor(bot.id);
    }
    expect(counted).toEqual({ messages: 1, tokens: usage.prompt_tokens + usage.completion_tokens });
    expect(fake.requests.filter((r) => JSON.stringify(r.messages).includes('budgeted and cut'))).toHaveLength(1);
    fake.reset();
  });
});
