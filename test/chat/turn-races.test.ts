// Turns at the edges (§6, §12): sends racing on one conversation are told "busy" (409), never
// "not found" (404); regenerate answers a message however large it is against the token budget.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { chattingUser, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer } from '../helpers/factories.js';

let fake: FakeLlm;
let t: TestApp;

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url, { CONTEXT_TOKEN_BUDGET: '600' }));
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

describe('sends racing on one conversation', () => {
  it('each is answered 201 or 409 conversation_busy, never 404', async () => {
    const { user, conversation } = await chattingUser(t);
    const statuses = new Map<number, number>();
    // Many short turns in waves: one wave's sends meet the previous turn finishing.
    for (let wave = 0; wave < 40; wave++) {
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => sendMessage(t, user, conversation.id, { content: `wave ${wave} send ${i}` })));
      for (const answer of answers) {
        statuses.set(answer.statusCode, (statuses.get(answer.statusCode) ?? 0) + 1);
        if (answer.statusCode === 409) expect(json(answer).code).toBe('conversation_busy');
      }
    }
    expect([...statuses.keys()].sort()).toEqual(statuses.has(409) ? [201, 409] : [201]);
    expect(statuses.get(201)).toBeGreaterThanOrEqual(40);
  });
});

describe('stop on a turn nobody is running (its instance crashed)', () => {
  it('answers {stopped: true} and the conversation takes messages again within seconds, not at the end of the lease', { timeout: 30_000 }, async () => {
    const { user, conversation } = await chattingUser(t);
    // What a crashed instance leaves behind: the conversation locked for a reply for two minutes.
    await t.database.sql.query(
      `UPDATE conversations SET busy_reply_id = $2, busy_until = now() + interval '120 seconds' WHERE id = $1`,
      [conversation.id, '0190a4c2-0000-7000-8000-0000000000aa'],
    );
    expect((await sendMessage(t, user, conversation.id, { content: 'anyone there?' })).statusCode).toBe(409);
    const stop = await t.request({ method: 'POST', url: `/v1/conversations/${conversation.id}/stop`, headers: bearer(user.accessToken) });
    expect(json(stop)).toEqual({ stopped: true });
    let status = 409;
    for (let attempt = 0; attempt < 40 && status === 409; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      status = (await sendMessage(t, user, conversation.id, { content: 'and now?' })).statusCode;
    }
    expect(status).toBe(201);
  });
});

describe('regenerate', () => {
  it('answers again a last message that alone exceeds CONTEXT_TOKEN_BUDGET (a long Chinese message)', async () => {
    const { user, conversation } = await chattingUser(t);
    const long = '我們公司生產電路板並銷售到世界各地。'.repeat(120); // 2,160 characters, far over a 600-token budget
    const first = await sendMessage(t, user, conversation.id, { content: long });
    expect(first.statusCode, first.body).toBe(201);
    const again = await t.request({ method: 'POST', url: `/v1/conversations/${conversation.id}/regenerate`, headers: bearer(user.accessToken) });
    expect(again.statusCode, again.body).toBe(201);
    expect(json(again).reply).toMatchObject({ status: 'complete' });
    expect(json(again).reply.id).not.toBe(json(first).reply.id);
    // The model was asked about the long message itself.
    expect(fake.requests.at(-1)!.messages.at(-1)).toEqual({ role: 'user', content: long });
  });
});
