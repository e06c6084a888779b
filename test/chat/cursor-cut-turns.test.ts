// A reply stored by the cut-turns sweep (features/chat/cut-turns.ts) took its times from the
// database's now(), with microseconds, where every other writer stores the app clock's
// milliseconds. List cursors carry milliseconds, so the next page started after that
// millisecond's start rather than after the row: a conversation active in the same millisecond
// was never listed (paging one at a time showed 1 of 2, in GET /v1/conversations and in the
// owner's inbox alike). The sweep now writes the app clock's time. PostgreSQL only: PGlite's
// now() has millisecond resolution. Run with TEST_DATABASE_URL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScoped } from '../../src/db/scope.js';
import { storeCutTurns } from '../../src/features/chat/cut-turns.js';
import { newId } from '../../src/lib/ids.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation } from '../helpers/chat.js';
import { startVisit } from '../helpers/public.js';
import { bearer, manualClock, registerUser, type ManualClock, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let clock: ManualClock;
beforeAll(async () => {
  clock = manualClock(new Date());
  t = await createTestApp({}, { clock });
});
afterAll(async () => {
  await t.close();
});

/**
 * Leaves `conversationId` as begin() leaves a turn whose instance stopped, runs the sweep, and
 * moves the app clock to the millisecond the conversation's activity was stored in: the next
 * conversation is then active in that same millisecond.
 */
async function cutTurn(owner: RegisteredUser, conversationId: string) {
  await t.database.sql.query(
    `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at) VALUES ($1, $2, $3, 'user', 'Hi', 'complete', 1, $4)`,
    [newId(), conversationId, owner.id, clock.now().toISOString()],
  );
  await t.database.sql.query(
    `UPDATE conversations SET message_count = 1, busy_reply_id = $2, busy_text = 'So far', busy_until = now() - interval '1 second' WHERE id = $1`,
    [conversationId, newId()],
  );
  clock.advance(7);
  expect(await storeCutTurns(createScoped(t.database.app), { everyHold: false, countTokens: () => 2, clock })).toBe(1);
  const [stored] = await t.database.sql.query<{ updated: string; reply: string }>(
    `SELECT (extract(epoch FROM c.updated_at) * 1000000)::bigint::text AS updated, (extract(epoch FROM m.created_at) * 1000000)::bigint::text AS reply
       FROM conversations c JOIN messages m ON m.conversation_id = c.id AND m.role = 'assistant' WHERE c.id = $1`,
    [conversationId],
  );
  clock.advance(Math.floor(Number(stored!.updated) / 1000) - clock.now().getTime());
  return stored!;
}

/** The sweep's times are the app clock's, to the microsecond: the reply's and the conversation's. */
function expectAppClockTimes(stored: { updated: string; reply: string }) {
  const expected = String(clock.now().getTime() * 1000);
  expect(stored).toEqual({ updated: expected, reply: expected });
}

async function pageOneAtATime(url: string, token: string, idOf: (row: Record<string, string>) => string) {
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 5; i++) {
    const response = await t.request({ method: 'GET', url: `${url}?limit=1${cursor ? `&cursor=${cursor}` : ''}`, headers: bearer(token) });
    expect(response.statusCode, response.body).toBe(200);
    const page = json(response);
    seen.push(...page.data.map(idOf));
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return seen.sort();
}

describe.skipIf(!process.env.TEST_DATABASE_URL)('a cut turn stored by the sweep, then paging one at a time', () => {
  it('GET /v1/conversations lists the conversation active in the same millisecond too', async () => {
    const user = await registerUser(t);
    const cut = await createConversation(t, user);
    const stored = await cutTurn(user, cut.id);
    const other = await createConversation(t, user);
    expect(await pageOneAtATime('/v1/conversations', user.accessToken, (c) => c.id!)).toEqual([cut.id, other.id].sort());
    expectAppClockTimes(stored);
  });

  it("the owner's inbox lists the visitor's conversation active in the same millisecond too", async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Public', is_public: true });
    const cut = await startVisit(t, bot.slug, { visitorId: 'cut' });
    const stored = await cutTurn(owner, cut.conversation_id);
    const other = await startVisit(t, bot.slug, { visitorId: 'other' });
    const seen = await pageOneAtATime(`/v1/chatbots/${bot.id}/conversations`, owner.accessToken, (c) => c.conversation_id!);
    expect(seen).toEqual([cut.conversation_id, other.conversation_id].sort());
    expectAppClockTimes(stored);
  });
});
