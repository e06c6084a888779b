// Usage and its limits (§11, §12): GET /v1/usage per UTC day, a chatbot's monthly token budget
// and an account's daily message cap, both answering 429 `quota_exceeded` without calling the
// model and without storing anything.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, manualClock, registerUser, type ManualClock, type RegisteredUser } from '../helpers/factories.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await fake?.close();
});

// Each test has its own app, database and clock: moving one test's clock moves nobody else's.
const opened: TestApp[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((app) => app.close()));
});

/** An app on the fake model whose clock starts at `start`; tokens outlive every move of the clock. */
async function appAt(start: string, env: Record<string, string> = {}): Promise<{ t: TestApp; clock: ManualClock }> {
  const clock = manualClock(new Date(start));
  const t = await createTestApp(fakeLlmEnv(fake.url, { ACCESS_TOKEN_TTL: '400d', REFRESH_TOKEN_TTL: '400d', LLM_MAX_RETRIES: '0', ...env }), { clock });
  opened.push(t);
  return { t, clock };
}

type Usage = { date: string; messages: number; prompt_tokens: number; completion_tokens: number };

function getUsage(t: TestApp, user: RegisteredUser, query = '') {
  return t.request({ method: 'GET', url: `/v1/usage${query}`, headers: bearer(user.accessToken) });
}

async function usageOf(t: TestApp, user: RegisteredUser, query = ''): Promise<Usage[]> {
  const response = await getUsage(t, user, query);
  expect(response.statusCode, response.body).toBe(200);
  const body = json(response);
  expect(Object.keys(body)).toEqual(['data']);
  return body.data as Usage[];
}

function expectProblem(response: LightMyRequestResponse, status: number, code: string) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = json(response);
  expect(body).toMatchObject({ status, code });
  expect(body.request_id).toBe(response.headers['x-request-id']);
  return body;
}

/** A turn that went through: its reply's tokens. */
async function turn(t: TestApp, user: RegisteredUser, conversationId: string, content = 'how long is the warranty on the blue kettle?') {
  const response = await sendMessage(t, user, conversationId, { content });
  expect(response.statusCode, response.body).toBe(201);
  const { reply } = json(response);
  expect(reply.status).toBe('complete');
  expect(reply.usage.prompt_tokens).toBeGreaterThan(0);
  expect(reply.usage.completion_tokens).toBeGreaterThan(0);
  return { prompt: reply.usage.prompt_tokens as number, completion: reply.usage.completion_tokens as number };
}

async function messageCount(t: TestApp, user: RegisteredUser, conversationId: string): Promise<number> {
  const response = await t.request({ method: 'GET', url: `/v1/conversations/${conversationId}`, headers: bearer(user.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response).message_count;
}

const total = (days: Usage[]) => days.reduce((sum, day) => sum + day.prompt_tokens + day.completion_tokens, 0);
const sum = (turns: Array<{ prompt: number; completion: number }>) =>
  turns.reduce((acc, x) => ({ prompt: acc.prompt + x.prompt, completion: acc.completion + x.completion }), { prompt: 0, completion: 0 });

describe('GET /v1/usage', () => {
  it('counts replies and their tokens per UTC day and chatbot after real turns, failed replies as no message', async () => {
    const { t, clock } = await appAt('2030-05-14T23:40:00Z');
    const alice = await registerUser(t);
    const support = await createChatbot(t, alice, { name: 'Support' });
    const sales = await createChatbot(t, alice, { name: 'Sales' });
    const supportChat = await createConversation(t, alice, { chatbot_id: support.id });
    const salesChat = await createConversation(t, alice, { chatbot_id: sales.id });

    expect(await usageOf(t, alice)).toEqual([]);

    const day1Support = [await turn(t, alice, supportChat.id), await turn(t, alice, supportChat.id, 'and the red one?')];
    const day1Sales = [await turn(t, alice, salesChat.id, 'what does the premium plan cost?')];

    clock.advance(30 * MINUTE); // 2030-05-15T00:10Z: a new UTC day
    const day2Support = [await turn(t, alice, supportChat.id, 'thanks, one more question')];
    // A reply that failed is stored (failed) and counts for nothing: not a message, and not the
    // prompt tokens Parley estimated for a request the model never answered.
    fake.fail({ kind: 'status', status: 500 });
    const failed = await sendMessage(t, alice, salesChat.id, { content: 'are you there?' });
    expect(failed.statusCode, failed.body).toBe(502);
    const salesMessages = await t.request({ method: 'GET', url: `/v1/conversations/${salesChat.id}/messages`, headers: bearer(alice.accessToken) });
    const failedReply = json(salesMessages).data.at(-1);
    expect(failedReply).toMatchObject({ role: 'assistant', status: 'failed' });
    expect(failedReply.usage?.prompt_tokens ?? 0).toBeGreaterThan(0);

    const supportTotals = sum(day1Support);
    const salesTotals = sum(day1Sales);
    const day1 = {
      date: '2030-05-14',
      messages: 3,
      prompt_tokens: supportTotals.prompt + salesTotals.prompt,
      completion_tokens: supportTotals.completion + salesTotals.completion,
    };
    const day2Totals = sum(day2Support);
    const day2 = { date: '2030-05-15', messages: 1, prompt_tokens: day2Totals.prompt, completion_tokens: day2Totals.completion };

    expect(await usageOf(t, alice, '?from=2030-05-14&to=2030-05-15')).toEqual([day1, day2]);
    // Defaults: the last 30 days up to today (UTC, from the app's clock).
    expect(await usageOf(t, alice)).toEqual([day1, day2]);
    expect(await usageOf(t, alice, '?from=2030-04-16')).toEqual([day1, day2]);
    expect(await usageOf(t, alice, '?from=2030-05-15')).toEqual([day2]);
    // `to` alone: the 30 days ending there.
    expect(await usageOf(t, alice, '?to=2030-05-14')).toEqual([day1]);
    expect(await usageOf(t, alice, '?from=2030-05-15&to=2030-05-15')).toEqual([day2]);
    expect(await usageOf(t, alice, '?from=2030-05-16&to=2030-06-30')).toEqual([]);
    expect(await usageOf(t, alice, '?from=2030-01-01&to=2030-05-13')).toEqual([]);

    // One chatbot (its id in any case).
    expect(await usageOf(t, alice, `?chatbot_id=${support.id}&from=2030-05-01&to=2030-05-31`)).toEqual([
      { date: '2030-05-14', messages: 2, prompt_tokens: supportTotals.prompt, completion_tokens: supportTotals.completion },
      { date: '2030-05-15', messages: 1, prompt_tokens: day2Support[0]!.prompt, completion_tokens: day2Support[0]!.completion },
    ]);
    expect(await usageOf(t, alice, `?chatbot_id=${sales.id.toUpperCase()}&from=2030-05-01&to=2030-05-31`)).toEqual([
      { date: '2030-05-14', messages: 1, prompt_tokens: salesTotals.prompt, completion_tokens: salesTotals.completion },
    ]);
    // A chatbot of theirs without usage: an empty list, not a 404.
    const quiet = await createChatbot(t, alice, { name: 'Quiet' });
    expect(await usageOf(t, alice, `?chatbot_id=${quiet.id}`)).toEqual([]);
  });

  it("answers another user's chatbot as an unknown one (404), and never shows another user's usage", async () => {
    const { t } = await appAt('2030-05-14T12:00:00Z');
    const alice = await registerUser(t);
    const bob = await registerUser(t);
    const alicesBot = await createChatbot(t, alice, { name: 'Alice bot' });
    const alicesChat = await createConversation(t, alice, { chatbot_id: alicesBot.id });
    const alicesTurn = await turn(t, alice, alicesChat.id);

    // Bob has used nothing: none of Alice's usage reaches him, whatever he asks.
    expect(await usageOf(t, bob)).toEqual([]);
    expect(await usageOf(t, bob, '?from=2030-01-01&to=2030-12-31')).toEqual([]);

    const foreign = expectProblem(await getUsage(t, bob, `?chatbot_id=${alicesBot.id}`), 404, 'not_found');
    const unknown = expectProblem(await getUsage(t, bob, '?chatbot_id=0190f5b4-6d4e-7c3a-9b1e-2f3a4b5c6d7e'), 404, 'not_found');
    const malformed = expectProblem(await getUsage(t, bob, '?chatbot_id=not-an-id'), 404, 'not_found');
    const strip = ({ request_id: _id, ...rest }: Record<string, unknown>) => rest;
    expect(strip(foreign)).toEqual(strip(unknown));
    expect(strip(malformed)).toEqual(strip(unknown));

    // Bob's own usage is his alone, and Alice's is still all hers.
    const bobsChat = await createConversation(t, bob);
    const bobsTurn = await turn(t, bob, bobsChat.id, 'hello there');
    expect(await usageOf(t, bob)).toEqual([
      { date: '2030-05-14', messages: 1, prompt_tokens: bobsTurn.prompt, completion_tokens: bobsTurn.completion },
    ]);
    expect(await usageOf(t, alice)).toEqual([
      { date: '2030-05-14', messages: 1, prompt_tokens: alicesTurn.prompt, completion_tokens: alicesTurn.completion },
    ]);
  });

  it('refuses bad dates, backwards or over-long ranges and unknown parameters with 422 problem+json', async () => {
    const { t } = await appAt('2030-05-14T12:00:00Z');
    const user = await registerUser(t);
    const bad = [
      '?from=2026-02-30&to=2026-03-05',
      '?from=2026-02-29&to=2026-03-05', // not a leap year
      '?to=2026-13-01',
      '?from=yesterday',
      '?from=2026-1-5',
      '?from=20260105',
      '?from=2026-01-05T00:00:00Z',
      '?from=',
      '?from=0000-01-01&to=0000-01-02',
      '?from=2026-03-02&to=2026-03-01', // backwards
      '?from=2030-05-15', // after `to`, which defaults to today
      '?from=2025-01-01&to=2026-01-02', // 367 days
      '?from=2029-05-13', // 367 days up to today
      '?days=7',
      '?from=2026-01-01&from=2026-01-02',
    ];
    for (const query of bad) {
      const body = expectProblem(await getUsage(t, user, query), 422, 'validation_failed');
      expect(Array.isArray(body.errors) && body.errors.length > 0, `${query}: ${JSON.stringify(body)}`).toBe(true);
      for (const error of body.errors) expect(error.path, query).toMatch(/^query/);
    }
    const backwards = expectProblem(await getUsage(t, user, '?from=2026-03-02&to=2026-03-01'), 422, 'validation_failed');
    expect(backwards.errors).toEqual([{ path: 'query.from', message: expect.any(String) }]);

    // Bad dates win over an unknown chatbot: nothing is looked up for a request that cannot be answered.
    expectProblem(await getUsage(t, user, '?from=2026-02-30&chatbot_id=0190f5b4-6d4e-7c3a-9b1e-2f3a4b5c6d7e'), 422, 'validation_failed');

    // The longest range (366 days, a leap year), leap days and a range of one day are fine.
    expect(await usageOf(t, user, '?from=2028-01-01&to=2028-12-31')).toEqual([]);
    expect(await usageOf(t, user, '?from=2029-05-14')).toEqual([]);
    expect(await usageOf(t, user, '?from=2028-02-29&to=2028-02-29')).toEqual([]);

    expectProblem(await t.request({ method: 'GET', url: '/v1/usage' }), 401, 'unauthorized');
  });
});

describe('/v1/usage in /openapi.json', () => {
  it('documents the query (dates as format date) and the answer from the same schemas', async () => {
    const { t } = await appAt('2030-05-14T12:00:00Z');
    const doc = json(await t.request({ method: 'GET', url: '/openapi.json' }));
    const operation = doc.paths['/v1/usage'].get;
    const parameters = Object.fromEntries(operation.parameters.map((p: any) => [p.name, p]));
    expect(Object.keys(parameters).sort()).toEqual(['chatbot_id', 'from', 'to']);
    for (const name of ['from', 'to']) expect(parameters[name]).toMatchObject({ in: 'query', required: false, schema: { type: 'string', format: 'date' } });
    expect(Object.keys(operation.responses).sort()).toEqual(['200', '401', '403', '404', '422']);
    const answer = operation.responses['200'].content['application/json'].schema;
    expect(answer.properties.data.items.required.sort()).toEqual(['completion_tokens', 'date', 'messages', 'prompt_tokens']);
  });
});

/** Sets a chatbot's monthly token budget. */
async function setBudget(t: TestApp, user: RegisteredUser, chatbotId: string, budget: number | null) {
  const response = await t.request({ method: 'PATCH', url: `/v1/chatbots/${chatbotId}`, headers: bearer(user.accessToken), payload: { token_budget_monthly: budget } });
  expect(response.statusCode, response.body).toBe(200);
}

describe('token_budget_monthly', () => {
  it('refuses a spent chatbot with 429 quota_exceeded until next month (UTC), without calling the model or storing anything', async () => {
    // Two hours before February, UTC; January has 31 days.
    const { t, clock } = await appAt('2030-01-31T22:00:00Z');
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { name: 'Budgeted' });
    const other = await createChatbot(t, user, { name: 'Unbudgeted' });
    const chat = await createConversation(t, user, { chatbot_id: bot.id });
    const otherChat = await createConversation(t, user, { chatbot_id: other.id });

    const first = await turn(t, user, chat.id);
    const spent = first.prompt + first.completion;
    await setBudget(t, user, bot.id, spent); // exactly spent

    const calls = fake.requests.length;
    const stored = await t.count('messages');
    const conversations = await t.count('conversations');
    const count = await messageCount(t, user, chat.id);

    const expectSpent = (response: LightMyRequestResponse) => {
      const body = expectProblem(response, 429, 'quota_exceeded');
      expect(body.detail).toMatch(/budget/i);
      expect(response.headers['retry-after']).toBe(String(2 * 60 * 60));
      expect(response.headers['ratelimit-policy']).toBe(`"token_budget_monthly";q=${spent};w=${31 * 24 * 60 * 60}`);
      expect(response.headers.ratelimit).toBe(`"token_budget_monthly";r=0;t=${2 * 60 * 60}`);
    };

    expectSpent(await sendMessage(t, user, chat.id, { content: 'one more?' }));
    // Streamed (either way of asking): a plain 429 before any event.
    expectSpent(await sendMessage(t, user, chat.id, { content: 'one more?', stream: true }));
    expectSpent(await sendMessage(t, user, chat.id, { content: 'one more?' }, { accept: 'text/event-stream' }));
    // Regenerating, and the one-call chat in a new conversation (which leaves no conversation behind).
    expectSpent(await t.request({ method: 'POST', url: `/v1/conversations/${chat.id}/regenerate`, headers: bearer(user.accessToken), payload: {} }));
    expectSpent(await t.request({ method: 'POST', url: '/v1/chat', headers: bearer(user.accessToken), payload: { message: 'hi', chatbot_id: bot.id } }));

    expect(fake.requests.length).toBe(calls);
    expect(await t.count('messages')).toBe(stored);
    expect(await t.count('conversations')).toBe(conversations);
    expect(await messageCount(t, user, chat.id)).toBe(count);
    // The conversation is not left locked by a refused turn.
    expect((await t.request({ method: 'POST', url: `/v1/conversations/${chat.id}/stop`, headers: bearer(user.accessToken) })).json()).toEqual({ stopped: false });

    // The budget is the chatbot's: the owner's other chatbot answers.
    await turn(t, user, otherChat.id);

    // A minute before February: still spent, Retry-After counts down.
    clock.advance(2 * HOUR - MINUTE);
    const late = await sendMessage(t, user, chat.id, { content: 'one more?' });
    expectProblem(late, 429, 'quota_exceeded');
    expect(late.headers['retry-after']).toBe('60');

    // February: a new month, a fresh budget.
    clock.advance(MINUTE);
    const february = await turn(t, user, chat.id, 'it is a new month');
    expect(await usageOf(t, user, `?chatbot_id=${bot.id}&from=2030-01-01&to=2030-02-28`)).toEqual([
      { date: '2030-01-31', messages: 1, prompt_tokens: first.prompt, completion_tokens: first.completion },
      { date: '2030-02-01', messages: 1, prompt_tokens: february.prompt, completion_tokens: february.completion },
    ]);
    // Raising the budget lets a spent chatbot answer again in the same month; null removes it.
    await setBudget(t, user, bot.id, february.prompt + february.completion);
    expectProblem(await sendMessage(t, user, chat.id, { content: 'again?' }), 429, 'quota_exceeded');
    await setBudget(t, user, bot.id, null);
    await turn(t, user, chat.id, 'no budget now');
  });

  it('lets in at most the turns already running when the budget runs out, then refuses every later turn', async () => {
    const { t } = await appAt('2030-03-10T12:00:00Z');
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { name: 'Busy' });
    const CONCURRENT = 8;
    const content = 'what are your opening hours on sundays?';

    // One turn's worth, measured in a conversation like the ones below (fresh, same message).
    const probe = await createConversation(t, user, { chatbot_id: bot.id });
    const one = await turn(t, user, probe.id, content);
    const perTurn = one.prompt + one.completion;
    // One turn's worth from spent: sequentially, exactly one more turn would be let in.
    const budget = 2 * perTurn;
    await setBudget(t, user, bot.id, budget);

    const chats = await Promise.all(Array.from({ length: CONCURRENT }, () => createConversation(t, user, { chatbot_id: bot.id })));
    // The model takes a while, so the turns overlap: none has finished when the others begin.
    fake.setDelays({ firstTokenDelayMs: 300 });
    const round = async () => {
      const before = fake.requests.length;
      const responses = await Promise.all(chats.map((chat) => sendMessage(t, user, chat.id, { content })));
      const admitted = responses.filter((r) => r.statusCode === 201);
      const refused = responses.filter((r) => r.statusCode === 429);
      for (const r of refused) expectProblem(r, 429, 'quota_exceeded');
      expect(admitted.length + refused.length, responses.map((r) => `${r.statusCode} ${r.body}`).join('\n')).toBe(CONCURRENT);
      // Only the admitted turns called the model.
      expect(fake.requests.length - before).toBe(admitted.length);
      return { admitted: admitted.map((r) => json(r).reply.usage as { prompt_tokens: number; completion_tokens: number }), refused: refused.length };
    };

    const first = await round();
    expect(first.admitted.length).toBeGreaterThanOrEqual(1);
    const recorded = total(await usageOf(t, user, `?chatbot_id=${bot.id}`));
    const admittedTokens = first.admitted.reduce((acc, u) => acc + u.prompt_tokens + u.completion_tokens, 0);
    // Every admitted reply is accounted for, exactly; refused turns added nothing.
    expect(recorded).toBe(perTurn + admittedTokens);
    // The budget is spent, and overrun by no more than the turns let in beside the one that spent it.
    const largest = Math.max(...first.admitted.map((u) => u.prompt_tokens + u.completion_tokens));
    expect(recorded).toBeGreaterThanOrEqual(budget);
    expect(recorded - budget).toBeLessThanOrEqual((first.admitted.length - 1) * largest);

    // Once a round has spent the budget, no later turn is let in: all of the next round is refused.
    const second = await round();
    expect(second.admitted).toEqual([]);
    expect(second.refused).toBe(CONCURRENT);
    expect(total(await usageOf(t, user, `?chatbot_id=${bot.id}`))).toBe(recorded);
    // Nothing of the refused turns was stored: each conversation holds its admitted turn at most.
    const counts = await Promise.all(chats.map((chat) => messageCount(t, user, chat.id)));
    expect(counts.filter((n) => n === 2)).toHaveLength(first.admitted.length);
    expect(counts.filter((n) => n === 0)).toHaveLength(first.refused);
  });

  it('refuses a turn that starts after the budget ran out, even while turns started before are still running', async () => {
    const { t } = await appAt('2030-03-10T12:00:00Z');
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { name: 'Staggered' });
    const probe = await createConversation(t, user, { chatbot_id: bot.id });
    const one = await turn(t, user, probe.id, 'quick');
    // A token from spent: whichever turn finishes next spends it.
    const budget = one.prompt + one.completion + 1;
    await setBudget(t, user, bot.id, budget);

    // The model's answer takes as long as its words: "slow" turns run for seconds, others finish at once.
    const SLOW_WORDS = 40;
    fake.setReply((request) => {
      const last = request.messages.at(-1)?.content ?? '';
      return last.includes('slow') ? Array.from({ length: SLOW_WORDS }, (_, i) => `word${i}`).join(' ') : 'ok';
    });
    fake.setDelays({ chunkDelayMs: 40 });

    const slowChats = await Promise.all([1, 2, 3].map(() => createConversation(t, user, { chatbot_id: bot.id })));
    const lateChats = await Promise.all([1, 2, 3, 4].map(() => createConversation(t, user, { chatbot_id: bot.id })));
    const fastChat = await createConversation(t, user, { chatbot_id: bot.id });

    const calls = fake.requests.length;
    const slow = Promise.all(slowChats.map((chat) => sendMessage(t, user, chat.id, { content: 'a slow one please' })));
    await fake.waitFor((requests) => requests.length >= calls + slowChats.length);
    // Started before anything spent the budget, and spends it.
    const fast = await turn(t, user, fastChat.id, 'quick');

    const late = await Promise.all(lateChats.map((chat) => sendMessage(t, user, chat.id, { content: 'quick' })));
    // The slow turns are still running: the late ones were refused for the spent budget, not for lack of overlap.
    expect(fake.openResponses()).toBe(slowChats.length);
    for (const response of late) expectProblem(response, 429, 'quota_exceeded');
    expect(fake.requests.length).toBe(calls + slowChats.length + 1);

    // The turns let in before still finish and are accounted for.
    const slowAnswers = await slow;
    for (const response of slowAnswers) expect(response.statusCode, response.body).toBe(201);
    const tokensOf = (response: LightMyRequestResponse) => json(response).reply.usage.prompt_tokens + json(response).reply.usage.completion_tokens;
    const recorded = total(await usageOf(t, user, `?chatbot_id=${bot.id}`));
    expect(recorded).toBeGreaterThanOrEqual(budget);
    expect(recorded).toBe(one.prompt + one.completion + fast.prompt + fast.completion + slowAnswers.reduce((acc, r) => acc + tokensOf(r), 0));
    const counts = await Promise.all(lateChats.map((chat) => messageCount(t, user, chat.id)));
    expect(counts).toEqual(lateChats.map(() => 0));
  });
});

describe('USAGE_MESSAGES_PER_DAY', () => {
  it('refuses an account\'s third message of the UTC day with 429 quota_exceeded until midnight, storing nothing', async () => {
    const { t, clock } = await appAt('2030-06-10T23:00:00Z', { USAGE_MESSAGES_PER_DAY: '2' });
    const user = await registerUser(t);
    const other = await registerUser(t);
    const chat = await createConversation(t, user);
    await turn(t, user, chat.id, 'first');
    clock.advance(30 * MINUTE);
    await turn(t, user, chat.id, 'second');

    const calls = fake.requests.length;
    const stored = await t.count('messages');
    const count = await messageCount(t, user, chat.id);
    for (const headers of [{}, { accept: 'text/event-stream' }] as Array<Record<string, string>>) {
      const third = await sendMessage(t, user, chat.id, { content: 'third' }, headers);
      expectProblem(third, 429, 'quota_exceeded');
      // 23:30 UTC: half an hour to midnight.
      expect(third.headers['retry-after']).toBe(String(30 * 60));
      expect(third.headers['ratelimit-policy']).toBe('"messages_day";q=2;w=86400');
      expect(third.headers.ratelimit).toBe(`"messages_day";r=0;t=${30 * 60}`);
    }
    expect(fake.requests.length).toBe(calls);
    expect(await t.count('messages')).toBe(stored);
    expect(await messageCount(t, user, chat.id)).toBe(count);

    // The cap is per account: another user still has their day's messages.
    const otherChat = await createConversation(t, other);
    await turn(t, other, otherChat.id, 'hello');

    // The next UTC day.
    clock.advance(30 * MINUTE);
    await turn(t, user, chat.id, 'a new day');
    expect(await usageOf(t, user, '?from=2030-06-10&to=2030-06-11')).toEqual([
      expect.objectContaining({ date: '2030-06-10', messages: 2 }),
      expect.objectContaining({ date: '2030-06-11', messages: 1 }),
    ]);
  });

  // Fails today: chat.service `admit` consumes the day's allowance before the turn's begin
  // statement decides whether the turn happens at all, so refused turns use up the day.
  it('counts only messages it takes: a turn refused (spent budget, unknown conversation) does not use up the day', async () => {
    const { t } = await appAt('2030-06-10T12:00:00Z', { USAGE_MESSAGES_PER_DAY: '2' });
    const user = await registerUser(t);
    const spentBot = await createChatbot(t, user, { name: 'Spent' });
    await setBudget(t, user, spentBot.id, 1);
    const spentChat = await createConversation(t, user, { chatbot_id: spentBot.id });
    // The day's first message, which also spends the chatbot's budget.
    await turn(t, user, spentChat.id, 'first message of the day');

    const overBudget = expectProblem(await sendMessage(t, user, spentChat.id, { content: 'over budget' }), 429, 'quota_exceeded');
    expect(overBudget.detail).toMatch(/budget/i);
    expectProblem(await sendMessage(t, user, '0190f5b4-6d4e-7c3a-9b1e-2f3a4b5c6d7e', { content: 'nobody here' }), 404, 'not_found');

    // One message of today was taken: the second is still the user's.
    const chat = await createConversation(t, user);
    const second = await sendMessage(t, user, chat.id, { content: 'second message of the day' });
    expect(second.statusCode, second.body).toBe(201);
  });
});
