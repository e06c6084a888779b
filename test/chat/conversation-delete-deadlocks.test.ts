// A conversation's deletion holds the conversation and then, through ON DELETE CASCADE, its
// messages. A statement that takes one of its messages and then the conversation deadlocks with
// it on PostgreSQL, and PostgreSQL's victim is whichever side waited first. Seen in CI under random
// faults for a regenerated reply's store (answered 500); the two other statements of that shape
// (a turn's own reply taking the place of the cut one a sweep stored, and the undoing of a turn
// start whose answer was lost) were made to meet it here. Each now takes the conversation first,
// so it waits for the deletion and then finds nothing to do. PGlite has one session, so there is
// no second order to meet.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTurnsRepo } from '../../src/features/chat/turns.repo.js';
import { newId } from '../../src/lib/ids.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { whileRowsHeld } from '../helpers/held-lock.js';
import { createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';

const url = process.env.TEST_DATABASE_URL;
let fake: FakeLlm;
let t: TestApp;

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url, { CUT_TURNS_SWEEP_MS: '100' }));
});
afterEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const faults = () => t.logs.filter((line) => /"level":(50|60)/.test(line));

const deleteWhileHeld = <T>(conversationId: string, waiting: () => Promise<T>) =>
  whileRowsHeld(t, url!, {
    hold: ['SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conversationId]],
    waiting,
    then: ['DELETE FROM conversations WHERE id = $1', [conversationId]],
  });

describe.runIf(url)('a conversation deleted while a statement that takes one of its messages waits for it', () => {
  it('answers a regeneration as for a deleted conversation, with no deadlock and nothing logged as a fault', async () => {
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    expect((await sendMessage(t, user, conversation.id, { content: 'Hello there' })).statusCode).toBe(201);
    fake.setDelays({ firstTokenDelayMs: 400 });
    const regenerated = t.request({ method: 'POST', url: `/v1/conversations/${conversation.id}/regenerate`, headers: bearer(user.accessToken), payload: {} });
    await fake.waitFor((requests) => requests.length === 2);
    // The reply's store runs once the model answers, and waits for the hold.
    const answer = await deleteWhileHeld(conversation.id, () => regenerated);
    fake.setDelays({ firstTokenDelayMs: 0 });
    expect(answer.statusCode, answer.body).toBe(404);
    expect(faults()).toEqual([]);
  });

  it('answers a late turn whose cut reply it replaces as for a deleted conversation, with no deadlock', { timeout: 30_000 }, async () => {
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    fake.setDelays({ firstTokenDelayMs: 1_500 });
    const late = sendMessage(t, user, conversation.id, { content: 'Are you still there?' });
    await fake.waitFor((requests) => requests.length === 1);
    // As the hold stands once its instance has not renewed it for the lease's length; the sweep
    // then stores the reply as cut short, and the turn's own reply will take its place.
    await t.database.sql.query(`UPDATE conversations SET busy_until = now() - interval '1 second' WHERE id = $1`, [conversation.id]);
    for (let i = 0; ; i++) {
      const rows = await t.database.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1 AND error_code = 'server_stopped'`, [conversation.id]);
      if (Number(rows[0]?.n) > 0) break;
      expect(i, 'the sweep never stored the cut reply').toBeLessThan(300);
      await sleep(20);
    }
    const answer = await deleteWhileHeld(conversation.id, () => late);
    fake.setDelays({ firstTokenDelayMs: 0 });
    expect(answer.statusCode, answer.body).toBe(404);
    expect(faults()).toEqual([]);
  });

  it('takes back a turn start whose answer was lost, as the conversation is deleted, without a deadlock', async () => {
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    expect((await sendMessage(t, user, conversation.id, { content: 'Hello there' })).statusCode).toBe(201);
    // The state a begin leaves when its answer is lost: the user message stored and the
    // conversation held by the reply that never ran.
    const replyId = newId();
    const messageId = newId();
    await t.database.sql.query(
      `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
       SELECT $1, id, user_id, 'user', 'Lost on the way', 'complete', 4, now() FROM conversations WHERE id = $2`,
      [messageId, conversation.id],
    );
    await t.database.sql.query(
      `UPDATE conversations SET busy_reply_id = $2, busy_until = now() + interval '1 minute', message_count = message_count + 1 WHERE id = $1`,
      [conversation.id, replyId],
    );
    const turns = createTurnsRepo(t.database.app.sql);
    await expect(deleteWhileHeld(conversation.id, () => turns.undoBegin(user.id, conversation.id, { replyId, messageId, title: null }))).resolves.toBeUndefined();
    const left = await t.database.sql.query(`SELECT id FROM messages WHERE conversation_id = $1`, [conversation.id]);
    expect(left).toEqual([]);
    const read = await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}`, headers: bearer(user.accessToken) });
    expect(read.statusCode).toBe(404);
  });
});
