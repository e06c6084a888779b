// A `stop` Parley refuses is refused for what is wrong with it. The schema's union reports its
// first branch, so five sequences, an empty list or an empty sequence in a list were each told
// "stop must be string": a developer read that lists are not taken at all.
import { describe, expect, it } from 'vitest';
import { expectOpenAiError, useOpenAiStage, post, sdk } from './stage.js';

const stage = useOpenAiStage();

const ask = (stop: unknown) => post(stage, stage.key.key, { model: stage.bot.slug, messages: [{ role: 'user', content: 'Hello' }], stop });

describe('a refused stop → 400 naming what is wrong with it, the model not called', () => {
  it.each([
    ['five sequences', ['a', 'b', 'c', 'd', 'e'], 'stop', /at most 4/],
    ['an empty list', [], 'stop', /at least one/],
    ['an empty sequence in a list', ['Observation:', ''], 'stop.1', /empty/],
    ['a sequence that is not text', ['Observation:', 7], 'stop.1', /string/],
    ['a sequence over 1,000 characters', ['x'.repeat(1001)], 'stop.0', /1000 characters/],
    ['an empty string', '', 'stop', /empty/],
    ['a number', 7, 'stop', /string or a list/],
  ])('%s', async (_name, stop, param, message) => {
    const error = expectOpenAiError(await ask(stop), 400, 'validation_failed', 'invalid_request_error');
    expect(error.param).toBe(param);
    expect(error.message).toMatch(message);
    expect(error.message).not.toMatch(/must be string$/);
    expect(stage.llm.requests).toHaveLength(0);
  });

  it('the openai SDK raises BadRequestError saying at most 4', async () => {
    const error = await sdk(stage, stage.key.key)
      .chat.completions.create({ model: stage.bot.slug, messages: [{ role: 'user', content: 'Hello' }], stop: ['1', '2', '3', '4', '5'] })
      .catch((e: unknown) => e as Error);
    expect((error as Error).constructor.name).toBe('BadRequestError');
    expect((error as Error).message).toMatch(/at most 4/);
  });
});

describe('stops Parley takes', () => {
  it('one string, and one to four sequences, are answered', async () => {
    for (const stop of ['Observation:', ['Observation:'], ['a1', 'b2', 'c3', 'd4'], null]) {
      const answer = await ask(stop);
      expect(answer.status, answer.text).toBe(200);
    }
    expect(stage.llm.requests).toHaveLength(4);
  });
});
