// Deleting a chatbot with a great many conversations, on PostgreSQL. In one statement its
// cascades took 12 s for 400,000 conversations (4 million messages), so a somewhat larger
// chatbot outlasted DATABASE_STALL_TIMEOUT (15 s by default): the deletion was cancelled, answered
// 503, and the chatbot could never be deleted. Its conversations now go a batch a transaction
// (chatbots.repo.ts REMOVE_BATCH), and then its visitors, each far inside the timeout. Here a real server runs with the
// timeout cut to 500 ms, and the chatbot is large enough that one statement takes longer (1.2 s to
// 3.6 s machine by machine, estimated from the batches' times), while a batch takes 20 to 60 ms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REMOVE_BATCH } from '../../src/features/chatbots/chatbots.repo.js';
import { call, cluster, conversation, pgUrl, register, type Instance } from '../instances/cluster.js';

const CONVERSATIONS = 200 * REMOVE_BATCH;
const instances = cluster();
let server: Instance;
beforeAll(async () => {
  if (pgUrl) server = await instances.start({ DATABASE_STALL_TIMEOUT: '500ms', LOG_LEVEL: 'warn' }, { redis: 'none' });
}, 60_000);
afterAll(async () => {
  await instances.cleanUp();
});

describe.runIf(pgUrl)(`a chatbot with ${CONVERSATIONS} conversations of ten messages each`, () => {
  it('is deleted with all of them, though deleting them at once outlasts the stall timeout', { timeout: 180_000 }, async () => {
    const account = await register(server.base);
    const bot = (await call(server.base, 'POST', '/v1/chatbots', { token: account.token, body: { name: 'Busy front desk' } })).body;
    const first = await conversation(server.base, account, { chatbot_id: bot.id });
    const other = (await call(server.base, 'POST', '/v1/chatbots', { token: account.token, body: { name: 'Kept' } })).body;
    const kept = await conversation(server.base, account, { chatbot_id: other.id });
    await instances.sql(
      `INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, updated_at, message_count)
       SELECT gen_random_uuid(), user_id, chatbot_id, 'Old visit', now(), now(), 10 FROM conversations, generate_series(2, $2::int) WHERE id = $1`,
      [first, CONVERSATIONS],
    );
    // Half of them visitors' conversations, each with its visitor, as on a public chatbot.
    await instances.sql(
      `WITH v AS (
         INSERT INTO visitors (id, user_id, chatbot_id, visitor_id, first_seen, last_seen)
         SELECT 'v_' || c.id, c.user_id, c.chatbot_id, 'visitor', now(), now()
           FROM conversations c WHERE c.chatbot_id = $1 AND c.id <> $2 AND get_byte(uuid_send(c.id), 15) % 2 = 0
         RETURNING id)
       UPDATE conversations c SET visitor_id = v.id FROM v WHERE v.id = 'v_' || c.id`,
      [bot.id, first],
    );
    const [made] = await instances.sql('SELECT count(*)::int AS n FROM visitors WHERE chatbot_id = $1', [bot.id]);
    expect(made?.n).toBeGreaterThan(CONVERSATIONS / 4);
    await instances.sql(
      `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
       SELECT gen_random_uuid(), c.id, c.user_id, 'user', 'A message of ordinary length, asking about opening hours.', 'complete', 12, now()
         FROM conversations c, generate_series(1, 10) WHERE c.chatbot_id = $1`,
      [bot.id],
    );
    // The planner's statistics as a database that grew over months has them: just after the bulk
    // insert they were stale, and the first batches took three times as long.
    await instances.sql('ANALYZE conversations, messages, visitors');
    const answer = await call(server.base, 'DELETE', `/v1/chatbots/${bot.id}`, { token: account.token });
    expect(answer.status, answer.text).toBe(204);
    expect((await call(server.base, 'GET', `/v1/chatbots/${bot.id}`, { token: account.token })).status).toBe(404);
    const [left] = await instances.sql('SELECT count(*)::int AS n FROM conversations WHERE chatbot_id = $1', [bot.id]);
    expect(left?.n).toBe(0);
    const [visitors] = await instances.sql('SELECT count(*)::int AS n FROM visitors WHERE chatbot_id = $1', [bot.id]);
    expect(visitors?.n).toBe(0);
    // The account's other chatbot keeps its conversation.
    expect((await call(server.base, 'GET', `/v1/conversations/${kept}`, { token: account.token })).status).toBe(200);
  });
});
