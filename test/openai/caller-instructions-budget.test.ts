// A client's `system` messages are sent whole, after the chatbot's own instructions. §6.2 keeps
// the tokens sent per turn within CONTEXT_TOKEN_BUDGET: history is cut to fit, but instructions
// cannot be cut without changing what they say, so instructions that alone pass the budget are
// refused as too long (OpenAI's 400), before the model is asked, rather than sent unbounded.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openAiStage, post, type Stage } from './stage.js';

const BUDGET = 2000;
let stage: Stage;
beforeAll(async () => {
  stage = await openAiStage({ CONTEXT_TOKEN_BUDGET: String(BUDGET) });
});
afterAll(async () => {
  await stage?.close();
});
beforeEach(() => stage.llm.reset());

// About 11 tokens each.
const rule = (i: number) => `Rule ${i}: answer politely and mention breakfast hours. `;

describe("a client's system messages and CONTEXT_TOKEN_BUDGET", () => {
  it('are sent whole when they fit the budget', async () => {
    const instructions = Array.from({ length: 100 }, (_, i) => rule(i)).join('');
    const answer = await post(stage, stage.key.key, { model: stage.bot.slug, messages: [{ role: 'system', content: instructions }, { role: 'user', content: 'Hello' }] });
    expect(answer.status, answer.text).toBe(200);
    const system = stage.llm.requests[0]!.messages[0]!.content;
    expect(system).toContain(instructions.trim());
  });

  it('are refused with 400 naming the budget when they alone pass it, and the model is not called', async () => {
    const instructions = Array.from({ length: 400 }, (_, i) => rule(i)).join('');
    const answer = await post(stage, stage.key.key, {
      model: stage.bot.slug,
      messages: [{ role: 'system', content: instructions.slice(0, instructions.length / 2) }, { role: 'system', content: instructions.slice(instructions.length / 2) }, { role: 'user', content: 'Hello' }],
    });
    expect(answer.status, answer.text).toBe(400);
    expect(answer.json.error).toMatchObject({ type: 'invalid_request_error', param: 'messages' });
    expect(answer.json.error.message).toContain(`${BUDGET} tokens`);
    expect(answer.json.error.message).toContain('CONTEXT_TOKEN_BUDGET');
    expect(stage.llm.requests).toHaveLength(0);
  });

  it('leave the history to what is left of the budget', async () => {
    const instructions = Array.from({ length: 150 }, (_, i) => rule(i)).join('');
    const history = Array.from({ length: 20 }, (_, i) => [
      { role: 'user', content: `Question ${i}: ${rule(i).repeat(8)}` },
      { role: 'assistant', content: `Answer ${i}.` },
    ]).flat();
    const answer = await post(stage, stage.key.key, { model: stage.bot.slug, messages: [{ role: 'system', content: instructions }, ...history, { role: 'user', content: 'Hello' }] });
    expect(answer.status, answer.text).toBe(200);
    const sent = stage.llm.requests[0]!.messages;
    // Some history was left out, and what was sent stays within the budget by the provider's count.
    expect(sent.length).toBeLessThan(history.length + 2);
    expect(answer.json.usage.prompt_tokens).toBeLessThanOrEqual(BUDGET);
  });
});
