// max_tokens and max_completion_tokens are passed to the model as they are: a value past what a
// chatbot's own max_tokens may be (200,000), or past what a JSON integer reader keeps exact, is
// refused with OpenAI's 400 naming the parameter, before the model is asked, rather than sent on
// as `1e+300` for the provider to refuse (a 502 "the model could not answer" for the caller).
import { describe, expect, it } from 'vitest';
import { expectOpenAiError, useOpenAiStage, post, usageTotals } from './stage.js';

const stage = useOpenAiStage();

const ask = (body: Record<string, unknown>) => post(stage, stage.key.key, { model: stage.bot.slug, messages: [{ role: 'user', content: 'Hello' }], ...body });

describe('a token limit past 200,000', () => {
  it.each([
    ['max_tokens', 1e300],
    ['max_tokens', 2 ** 53 + 2],
    ['max_tokens', 200_001],
    ['max_completion_tokens', 1e300],
    ['max_completion_tokens', 200_001],
  ])('%s: %d → 400 naming it, the model not called', async (param, value) => {
    const before = await usageTotals(stage);
    for (const stream of [false, true]) {
      const error = expectOpenAiError(await ask({ [param]: value, stream }), 400, 'validation_failed', 'invalid_request_error');
      expect(error.param).toBe(param);
    }
    expect(stage.llm.requests).toHaveLength(0);
    expect(await usageTotals(stage)).toEqual(before);
  });
});

describe('a token limit up to 200,000', () => {
  it('is answered and passed to the model as given', async () => {
    for (const body of [{ max_tokens: 200_000 }, { max_completion_tokens: 200_000 }]) {
      const answer = await ask(body);
      expect(answer.status, answer.text).toBe(200);
    }
    expect(stage.llm.requests.map((request) => request.body.max_tokens)).toEqual([200_000, 200_000]);
  });
});
