// A turn's statements are planned for what they do, however large the tables grow. PostgreSQL
// compiles a statement with LLVM when its estimated cost passes jit_above_cost (100,000 by
// default), which took ~60 ms a turn, and behind a transaction pooler (DATABASE_PREPARE=false)
// every statement is planned afresh with its values. Here the planner is told the messages table
// holds 20 million rows (its statistics, as ANALYZE would leave them on a large database), and a
// chatbot without knowledge sits beside one with it: its turns must not read the knowledge table.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANSWER_START } from '../../src/features/chat/answers.repo.js';
import { BEGIN, finishStatement } from '../../src/features/chat/turns.sql.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { chattingUser, createChatbot, sendMessage } from '../helpers/chat.js';
import { bearer } from '../helpers/factories.js';

const JIT_ABOVE_COST = 100_000;

let t: TestApp;
let ids: { conversation: string; user: string; chatbot: string; reply: string };

beforeAll(async () => {
  t = await createTestApp();
  const { user, conversation } = await chattingUser(t);
  const turn = await sendMessage(t, user, conversation.id, { content: 'Hello there' });
  expect(turn.statusCode).toBe(201);
  ids = { conversation: conversation.id, user: user.id, chatbot: conversation.chatbot_id, reply: turn.json().reply.id };
  // Another chatbot of the same owner has knowledge; the conversation's has none.
  const other = await createChatbot(t, user, { name: 'Knows things' });
  const upload = await t.request({
    method: 'POST',
    url: `/v1/chatbots/${other.id}/knowledge`,
    headers: bearer(user.accessToken),
    payload: { title: 'Returns', content: 'Another question about returns: any product within 30 days with the receipt.' },
  });
  expect(upload.statusCode).toBe(201);
  await t.database.sql.exec(`UPDATE pg_class SET reltuples = 2e7, relpages = 1 WHERE oid = 'messages'::regclass`);
});

afterAll(async () => {
  await t?.close();
});

type PlanNode = { 'Total Cost': number; 'Relation Name'?: string; 'Actual Loops'?: number; Plans?: PlanNode[] };

/** The top node of an EXPLAIN (FORMAT JSON) answer (PGlite gives the JSON as text). */
function topNode(rows: Array<{ 'QUERY PLAN': unknown }>): PlanNode {
  const plan = rows[0]!['QUERY PLAN'];
  return ((typeof plan === 'string' ? JSON.parse(plan) : plan) as Array<{ Plan: PlanNode }>)[0]!.Plan;
}

/** The planner's estimate for a statement run with these values, as an unprepared statement is planned. */
async function estimatedCost(statement: string, params: unknown[]): Promise<number> {
  return topNode(await t.database.app.sql.query(`EXPLAIN (FORMAT JSON) ${statement}`, params))['Total Cost'];
}

const finishValues = (replaces: string | null) => [
  randomUUID(), ids.conversation, ids.user, 'A reply', 'complete', 2, 'fake-model', 10, 2, 1, null, new Date(), replaces, 0, ids.chatbot,
];

describe('the statement that stores a reply, on a table of 20 million messages', () => {
  it('is estimated below the JIT threshold for an ordinary turn (no scan of every message for a DELETE it never runs)', async () => {
    const cost = await estimatedCost(finishStatement({ collecting: false, replacing: false }), finishValues(null));
    expect(cost).toBeLessThan(JIT_ABOVE_COST);
  });

  it('is estimated below the JIT threshold when a regenerated reply replaces the last one', async () => {
    const cost = await estimatedCost(finishStatement({ collecting: false, replacing: true }), finishValues(ids.reply));
    expect(cost).toBeLessThan(JIT_ABOVE_COST);
  });
});

const beginValues = (knowledgeQuery: string[] | null) => [
  ids.conversation, ids.user, randomUUID(), 120_000, new Date(), 'A title', randomUUID(), 'Another question', 3, 8000, knowledgeQuery, 8, 0, '2026-11-01', randomUUID(), null,
];

describe('the statement that starts a turn, on a table of 20 million messages', () => {
  it('is estimated below the JIT threshold, with knowledge terms and without', async () => {
    expect(await estimatedCost(BEGIN.account.message, beginValues(["'question'"]))).toBeLessThan(JIT_ABOVE_COST);
    expect(await estimatedCost(BEGIN.account.message, beginValues(null))).toBeLessThan(JIT_ABOVE_COST);
  });
});

/** How many times the statement's plan read the knowledge table (EXPLAIN ANALYZE runs it). */
async function knowledgeReads(run: (text: string) => Promise<Array<{ 'QUERY PLAN': unknown }>>, statement: string): Promise<number> {
  const loops = (node: PlanNode): number =>
    (node['Relation Name'] === 'knowledge_chunks' ? (node['Actual Loops'] ?? 0) : 0) + (node.Plans ?? []).reduce((sum, child) => sum + loops(child), 0);
  return loops(topNode(await run(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement}`)));
}

describe('a chatbot without knowledge', () => {
  it('starts a turn without reading the knowledge table', async () => {
    const rollback = new Error('rolled back on purpose');
    let reads = -1;
    await t.database.app
      .transaction(async ({ sql }) => {
        reads = await knowledgeReads((text) => sql.query(text, beginValues(["'question'"])), BEGIN.account.message);
        throw rollback;
      })
      .catch((error: unknown) => {
        if (error !== rollback) throw error;
      });
    expect(reads).toBe(0);
  });

  it('answers an API call (no conversation) without reading the knowledge table', async () => {
    const reads = await knowledgeReads((text) => t.database.app.sql.query(text, [ids.chatbot, ids.user, ["'question'"], 8, '2026-11-01', null, null]), ANSWER_START);
    expect(reads).toBe(0);
  });
});

/** Every table scan's per-row filter in the plan, with the table it reads. */
function rowFilters(node: PlanNode & { Filter?: string }): Array<{ table: string; filter: string }> {
  const own = node['Relation Name'] && node.Filter ? [{ table: node['Relation Name'], filter: node.Filter }] : [];
  return [...own, ...(node.Plans ?? []).flatMap((child) => rowFilters(child))];
}

describe('row security in a turn', () => {
  // A policy reads the caller's id in an init plan, once per statement. Read in place, it is looked
  // up and parsed again for every row a table scan passes: every message of the history read.
  it('reads the caller from the settings once per statement, not for every row it scans', async () => {
    const statements: Array<[string, unknown[]]> = [
      [BEGIN.account.message, beginValues(["'question'"])],
      [finishStatement({ collecting: false, replacing: false }), finishValues(null)],
    ];
    for (const [statement, values] of statements) {
      const plan = topNode(await t.database.app.sql.query(`EXPLAIN (VERBOSE, FORMAT JSON) ${statement}`, values));
      const filters = rowFilters(plan);
      expect(filters.map((f) => f.table)).toEqual(expect.arrayContaining(['conversations']));
      expect(filters.filter((f) => f.filter.includes('current_setting'))).toEqual([]);
    }
  });
});
