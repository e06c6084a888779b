// The OpenAI endpoint's usage (§8, §11): a call keeps no conversation, only its usage, which is
// added up with the moment's other calls and written a little later — exact, whatever the burst,
// and written before the server stops. A chatbot with a monthly budget is counted before each
// answer goes out, so its next call is refused the moment the budget is spent.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createTestApp } from '../helpers/app.js';
import { createChatbot, fakeLlmEnv } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { openAiStage, post, sdk, usageTotals, type Stage } from './stage.js';

let stage: Stage;
beforeAll(async () => {
  stage = await openAiStage();
});
afterAll(async () => {
  await stage?.close();
});

const ask = (content: string) => [{ role: 'user' as const, content }];

describe('usage of the OpenAI endpoint', () => {
  it('counts every call of a burst exactly: messages and tokens', async () => {
    const before = await usageTotals(stage);
    const client = sdk(stage, stage.key.key);
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => client.chat.completions.create({ model: stage.bot.slug, messages: ask(`burst ${i} ${'word '.repeat(i)}`) })));
    const tokens = answers.reduce((sum, a) => sum + a.usage!.total_tokens, 0);
    await vi.waitFor(async () => {
      const after = await usageTotals(stage);
      expect(after.messages - before.messages).toBe(24);
      expect(after.tokens - before.tokens).toBe(tokens);
    });
  });

  it('a failed model call counts nothing', async () => {
    const before = await usageTotals(stage);
    stage.llm.fail({ kind: 'status', status: 500 });
    const failed = await post(stage, stage.key.key, { model: stage.bot.slug, messages: ask('fail') });
    expect(failed.status).toBe(502);
    const ok = await sdk(stage, stage.key.key).chat.completions.create({ model: stage.bot.slug, messages: ask('then fine') });
    await vi.waitFor(async () => expect((await usageTotals(stage)).messages - before.messages).toBe(1));
    expect((await usageTotals(stage)).tokens - before.tokens).toBe(ok.usage!.total_tokens);
  });

  it('usage counted just before the server stops is written, not lost', async () => {
    const llm: FakeLlm = await startFakeLlm();
    const t = await createTestApp(fakeLlmEnv(llm.url));
    try {
      const owner = await registerUser(t);
      const bot = await createChatbot(t, owner, { name: 'Closing desk' });
      const key = await createApiKey(t, owner.accessToken, bot.id);
      const answer = await t.request({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${key.key}` }, payload: { model: bot.slug, messages: ask('last call') } });
      expect(answer.statusCode, answer.body).toBe(200);
      const { prompt_tokens, completion_tokens } = answer.json().usage as { prompt_tokens: number; completion_tokens: number };
      // Stop at once: whatever is still only in memory must reach the database on the way out.
      await t.app.close();
      const rows = await t.database.sql.query<{ messages: number; tokens: number }>(
        'SELECT sum(messages)::int AS messages, sum(prompt_tokens + completion_tokens)::int AS tokens FROM usage_daily WHERE chatbot_id = $1',
        [bot.id],
      );
      expect(rows[0]).toEqual({ messages: 1, tokens: prompt_tokens + completion_tokens });
    } finally {
      await t.close();
      await llm.close();
    }
  });
});
