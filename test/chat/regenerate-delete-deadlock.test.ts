// A regenerated reply's store deletes the reply it replaces and then updates its conversation; a
// conversation's deletion holds the conversation and then, through ON DELETE CASCADE, its messages.
// Taken in opposite orders, the two deadlocked on PostgreSQL (seen in CI under random faults): the
// store was PostgreSQL's victim, and the regeneration was answered 500. The store now takes the
// conversation first, so it waits for the deletion and answers as for any conversation deleted
// while its reply ran. PGlite has one session, so there is no second order to meet.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';

const url = process.env.TEST_DATABASE_URL;
let fake: FakeLlm;
let t: TestApp;

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(url)('a conversation deleted while its regenerated reply is stored', () => {
  it('answers the regeneration as for a deleted conversation, with no deadlock and nothing logged as a fault', async () => {
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    expect((await sendMessage(t, user, conversation.id, { content: 'Hello there' })).statusCode).toBe(201);
    const [{ schema }] = (await t.database.sql.query<{ schema: string }>('SELECT current_schema() AS schema', [])) as [{ schema: string }];
    const direct = postgres(url!, { max: 1, onnotice: () => {} });
    try {
      await direct.unsafe(`SET search_path TO "${schema}"`);
      const [{ pid }] = (await direct`SELECT pg_backend_pid() AS pid`) as unknown as [{ pid: number }];
      fake.setDelays({ firstTokenDelayMs: 400 });
      const regenerated = t.request({ method: 'POST', url: `/v1/conversations/${conversation.id}/regenerate`, headers: bearer(user.accessToken), payload: {} });
      await fake.waitFor((requests) => requests.length === 2);
      await direct.begin(async (tx) => {
        await tx`SELECT 1 FROM conversations WHERE id = ${conversation.id} FOR UPDATE`;
        // The reply's store now runs and waits for this transaction.
        for (let i = 0; ; i++) {
          const rows = await t.database.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND $1::int = ANY(pg_blocking_pids(pid))', [pid]);
          if (Number(rows[0]?.n) > 0) break;
          expect(i, 'the reply was never stored').toBeLessThan(300);
          await sleep(20);
        }
        await tx`DELETE FROM conversations WHERE id = ${conversation.id}`;
      });
      const answer = await regenerated;
      expect(answer.statusCode, answer.body).toBe(404);
      expect(t.logs.filter((line) => /"level":(50|60)/.test(line))).toEqual([]);
    } finally {
      await direct.end();
    }
  });
});
