// A server holds as many turns at once as it has room for (MAX_CONCURRENT_TURNS, by default what
// the open-file limit leaves room for): one turn more answers 503 `at_capacity` with Retry-After,
// on every channel, before anything is stored or counted, and the operator is told once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { json } from '../helpers/app.js';
import { createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, metricValue, registerUser } from '../helpers/factories.js';
import { openAiStage, post, type Stage } from '../openai/stage.js';

let stage: Stage;
beforeAll(async () => {
  stage = await openAiStage({ MAX_CONCURRENT_TURNS: '2' });
});
afterEach(() => stage.llm.reset());
afterAll(async () => {
  await stage?.close();
});

const messagesOf = async (token: string, id: string) =>
  json(await stage.t.request({ method: 'GET', url: `/v1/conversations/${id}/messages`, headers: bearer(token) })).data as unknown[];

/** Two slow turns that fill the server, one streamed from an account, one from an API key. */
async function fillWithSlowTurns() {
  stage.llm.setDelays({ firstTokenDelayMs: 1500 });
  const before = stage.llm.requests.length;
  const conversation = await createConversation(stage.t, stage.owner);
  const streamed = stage.t.request({ method: 'POST', url: `/v1/conversations/${conversation.id}/messages`, headers: bearer(stage.owner.accessToken), payload: { content: 'first', stream: true } });
  const keyed = post(stage, stage.key.key, { model: stage.bot.slug, messages: [{ role: 'user', content: 'second' }] });
  await stage.llm.waitFor((requests) => requests.length >= before + 2);
  return { streamed, keyed };
}

describe('a server at capacity', () => {
  it('answers one turn more 503 at_capacity on each channel, stores nothing, and takes turns again once one ends', async () => {
    const { streamed, keyed } = await fillWithSlowTurns();
    // What an operator alerts on before refusals: the server is full.
    expect(await metricValue(stage.t, 'parley_turns_running')).toBe(2);
    expect(await metricValue(stage.t, 'parley_turns_capacity')).toBe(2);
    const user = await registerUser(stage.t);
    const conversation = await createConversation(stage.t, user);
    const modelCalls = stage.llm.requests.length;

    const refused = await sendMessage(stage.t, user, conversation.id, { content: 'Are you there?' });
    expect(refused.statusCode, refused.body).toBe(503);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.headers['retry-after']).toBe('2');
    // Its connection is let go too: a full server needs its descriptors more than a keep-alive.
    expect(refused.headers.connection).toBe('close');
    const problem = json(refused);
    expect(problem.code).toBe('at_capacity');
    expect(problem.detail).toMatch(/try again/i);

    const streamedRefusal = await sendMessage(stage.t, user, conversation.id, { content: 'Streamed?', stream: true });
    expect(streamedRefusal.statusCode).toBe(503);
    expect(json(streamedRefusal).code).toBe('at_capacity');
    const oneCall = await stage.t.request({ method: 'POST', url: '/v1/chat', headers: bearer(user.accessToken), payload: { message: 'In a new conversation' } });
    expect(oneCall.statusCode).toBe(503);

    const openAi = await post(stage, stage.key.key, { model: stage.bot.slug, messages: [{ role: 'user', content: 'third' }] });
    expect(openAi.status).toBe(503);
    expect(openAi.json.error).toMatchObject({ type: 'server_error', code: 'at_capacity' });
    expect(openAi.headers.get('retry-after')).toBe('2');

    // Nothing was stored or asked of the model for the refused turns, and no conversation was made.
    expect(stage.llm.requests.length).toBe(modelCalls);
    expect(await messagesOf(user.accessToken, conversation.id)).toEqual([]);
    const listed = json(await stage.t.request({ method: 'GET', url: '/v1/conversations', headers: bearer(user.accessToken) }));
    expect(listed.data.map((c: { id: string }) => c.id)).toEqual([conversation.id]);

    // The operator hears of it once, with what to do, and the refusals are counted.
    const lines = stage.t.logs.filter((line) => line.includes('at_capacity'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 50, running: 2, capacity: 2 });
    expect(lines[0]).toMatch(/MAX_CONCURRENT_TURNS/);
    expect(await metricValue(stage.t, 'parley_turns_at_capacity_total')).toBe(4);

    expect((await streamed).statusCode).toBe(200);
    expect((await keyed).status).toBe(200);
    expect(await metricValue(stage.t, 'parley_turns_running')).toBe(0);
    stage.llm.setDelays({ firstTokenDelayMs: 0 });
    const again = await sendMessage(stage.t, user, conversation.id, { content: 'Are you there now?' });
    expect(again.statusCode, again.body).toBe(201);
    expect(await messagesOf(user.accessToken, conversation.id)).toHaveLength(2);
  });

  it('gives a turn\'s place back whatever ends it: refused or failed', async () => {
    const user = await registerUser(stage.t);
    const conversation = await createConversation(stage.t, user);
    // Busy conversations and missing ones are refused after a place was taken: it is given back.
    for (let i = 0; i < 3; i++) {
      const missing = await sendMessage(stage.t, user, '0190a8f4-9d7c-7e4a-8f6e-000000000000', { content: 'Anyone?' });
      expect(missing.statusCode).toBe(404);
    }
    stage.llm.fail({ kind: 'status', status: 500 });
    const failed = await sendMessage(stage.t, user, conversation.id, { content: 'This one fails' });
    expect(failed.statusCode).toBe(502);
    for (let i = 0; i < 2; i++) {
      const fine = await sendMessage(stage.t, user, conversation.id, { content: `Still here ${i}?` });
      expect(fine.statusCode, fine.body).toBe(201);
    }
  });
});
