// A chatbot deleted while a chat completion of one of its API keys is answered. Nothing is stored
// for such an answer, so the call that started with a valid key is answered in full, as when the
// key alone is deleted meanwhile. With a budget the answer is counted before it is given, and that
// count found the chatbot gone: a server fault (500) for an answer the model had produced.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer } from '../helpers/factories.js';
import { openAiStage, post, type Stage } from './stage.js';

let stage: Stage;
beforeAll(async () => {
  // A slow model: the whole answer comes after 2 s.
  stage = await openAiStage({}, { llm: { firstTokenDelayMs: 2000 } });
});
afterAll(async () => {
  await stage?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a chatbot deleted while a chat completion is answered', () => {
  for (const budget of [null, 100_000]) {
    it(`is answered in full (budget ${budget ?? 'none'})`, { timeout: 30_000 }, async () => {
      stage.llm.reset();
      const bot = await createChatbot(stage.t, stage.owner, { name: `Deleted while answering ${budget}`, model: stage.bot.model, token_budget_monthly: budget });
      const key = await createApiKey(stage.t, stage.owner, bot.id);
      const answer = post(stage, key.key, { model: bot.slug, messages: [{ role: 'user', content: 'What time is breakfast?' }], user: 'guest-1' });
      await stage.llm.waitFor((requests) => requests.length === 1);
      await sleep(200);
      const deleted = await stage.t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}`, headers: bearer(stage.owner.accessToken) });
      expect(deleted.statusCode).toBe(204);
      const answered = await answer;
      expect(answered.status, answered.text).toBe(200);
      expect(answered.json.choices[0].finish_reason).toBe('stop');
      expect(answered.json.choices[0].message.content).not.toBe('');
      expect(stage.llm.requests.map((request) => request.finished)).toEqual([true]);
    });
  }
});
