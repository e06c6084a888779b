// `stop` (OpenAI's up to four sequences, a string or an array): the answer ends before the first
// of them, as an OpenAI model's does. Agent frameworks depend on it (a ReAct loop stops the model
// at "Observation:"); it used to be ignored, the model was never sent it and the whole text came
// back. A remote model is sent the sequences; the builtin responder cuts its own answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, listen } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { expectOpenAiError, useOpenAiStage, post, sdk } from './stage.js';

const stage = useOpenAiStage();

const hi = [{ role: 'user' as const, content: 'Hello there' }];

describe('stop sequences with a remote model', () => {
  it('are sent to the model, and the answer ends before the first, whole or streamed', async () => {
    const client = sdk(stage, stage.key.key);
    const whole = await client.chat.completions.create({ model: stage.bot.slug, messages: hi, stop: ['there', 'said'] });
    expect(whole.choices[0]!.message.content).toBe('You ');
    expect(whole.choices[0]!.finish_reason).toBe('stop');
    expect(stage.llm.requests[0]!.body.stop).toEqual(['there', 'said']);

    const stream = await client.chat.completions.create({ model: stage.bot.slug, messages: hi, stop: ': Hello', stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('You said');
    expect(stage.llm.requests[1]!.body.stop).toEqual([': Hello']);
  });

  it('are not sent when none are given', async () => {
    const answer = await post(stage, stage.key.key, { model: stage.bot.slug, messages: hi, stop: null });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json.choices[0].message.content).toBe('You said: Hello there');
    expect(stage.llm.requests[0]!.body).not.toHaveProperty('stop');
  });

  it.each([
    ['more than four', ['a', 'b', 'c', 'd', 'e']],
    ['an empty one', ['']],
    ['an empty string', ''],
    ['a number', [42]],
  ])('%s → 400 naming stop, the model not asked', async (_name, stop) => {
    const answer = await post(stage, stage.key.key, { model: stage.bot.slug, messages: hi, stop });
    const error = expectOpenAiError(answer, 400, 'validation_failed');
    expect(error.param).toMatch(/^stop/);
    expect(stage.llm.requests).toHaveLength(0);
  });
});

describe('stop sequences with the builtin responder', () => {
  let t: TestApp;
  let base: string;
  let key: string;
  let slug: string;
  beforeAll(async () => {
    t = await createTestApp({});
    base = await listen(t);
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Front desk' });
    slug = bot.slug;
    key = (await createApiKey(t, owner.accessToken, bot.id)).key;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('cut its answer before the first, whole or streamed', async () => {
    const client = sdk({ base }, key);
    const full = (await client.chat.completions.create({ model: slug, messages: hi })).choices[0]!.message.content!;
    const words = full.split(/\s+/u).filter((word) => word.length > 0);
    expect(words.length).toBeGreaterThan(2);
    const stop = words[2]!;
    const expected = full.slice(0, full.indexOf(stop));

    const whole = await client.chat.completions.create({ model: slug, messages: hi, stop: [stop] });
    expect(whole.choices[0]!.message.content).toBe(expected);
    const stream = await client.chat.completions.create({ model: slug, messages: hi, stop: [stop], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(expected);
  });
});
