// The inbox reads a chatbot's visitors' conversations by activity. The owner's own conversations
// on the same chatbot (an account that chats for many people with its own token) sat in the same
// index, so each inbox page walked past every one of them: 40,000 made an inbox of no visitor
// take 45 ms on PostgreSQL. A page reads the visitors' rows only.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createScoped } from '../../src/db/scope.js';
import { FIRST_PAGE } from '../../src/features/inbox/inbox.repo.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { startVisit } from '../helpers/public.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

type PlanNode = { 'Relation Name'?: string; 'Actual Rows'?: number; 'Actual Loops'?: number; 'Rows Removed by Filter'?: number; Plans?: PlanNode[] };

/** Rows of `conversations` the plan looked at: those it kept and those its filters dropped. */
function conversationRowsRead(node: PlanNode): number {
  const own = node['Relation Name'] === 'conversations' ? ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0)) * (node['Actual Loops'] ?? 1) : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + conversationRowsRead(child), 0);
}

it("reads a page of the inbox without walking past the owner's own conversations on the chatbot", async () => {
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, { name: 'Front desk', is_public: true });
  await startVisit(t, chatbot.slug);
  // The owner's own conversations on this chatbot, and a busier public chatbot's visitors beside it.
  await t.database.sql.query(
    `INSERT INTO conversations (id, user_id, chatbot_id, created_at, updated_at)
     SELECT gen_random_uuid(), $1::uuid, $2::uuid, now() + n * interval '1 second', now() + n * interval '1 second'
       FROM generate_series(1, 5000) n`,
    [owner.id, chatbot.id],
  );
  const busy = await createChatbot(t, owner, { name: 'Shop', is_public: true });
  await t.database.sql.query(
    `WITH v AS (
       INSERT INTO visitors (id, user_id, chatbot_id, visitor_id, first_seen, last_seen)
       SELECT 'v-' || n || '-' || $2, $1::uuid, $2::uuid, 'visitor ' || n, now(), now() FROM generate_series(1, 20000) n
       RETURNING id
     )
     INSERT INTO conversations (id, user_id, chatbot_id, visitor_id, created_at, updated_at)
     SELECT gen_random_uuid(), $1::uuid, $2::uuid, v.id, now(), now() FROM v`,
    [owner.id, busy.id],
  );
  await t.database.sql.exec('ANALYZE conversations');

  const plan = await createScoped(t.database.app).user(owner.id, async ({ sql }) => {
    const rows = await sql.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${FIRST_PAGE}`, [owner.id, chatbot.id, 21, 200]);
    const text = rows[0]!['QUERY PLAN'];
    return ((typeof text === 'string' ? JSON.parse(text) : text) as Array<{ Plan: PlanNode }>)[0]!.Plan;
  });
  expect(conversationRowsRead(plan), JSON.stringify(plan).slice(0, 1500)).toBeLessThanOrEqual(5);
});
