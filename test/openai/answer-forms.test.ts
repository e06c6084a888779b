// Options that ask for another form of answer than a chatbot's text (structured JSON, token
// log-probabilities, a forced tool call, audio) cannot be honoured by Parley: they are refused
// with OpenAI's 400 naming the parameter, before the model is asked, rather than answered with
// plain text a client then fails to read. Their "as usual" values are still answered.
import { BadRequestError } from 'openai';
import { describe, expect, it } from 'vitest';
import { expectOpenAiError, useOpenAiStage, post, sdk, usageTotals } from './stage.js';

const stage = useOpenAiStage();

const user = (content = 'Hello') => [{ role: 'user', content }];
const ask = (body: Record<string, unknown>) => post(stage, stage.key.key, { model: stage.bot.slug, messages: user(), ...body });
const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };

describe('an answer in a form Parley cannot give → 400 unsupported_parameter, the model not called', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['a JSON schema', { response_format: { type: 'json_schema', json_schema: { name: 'place', strict: true, schema } } }, 'response_format'],
    ['JSON mode', { response_format: { type: 'json_object' } }, 'response_format'],
    ['log-probabilities', { logprobs: true }, 'logprobs'],
    ['the top log-probabilities', { logprobs: true, top_logprobs: 3 }, 'logprobs'],
    ['a tool call required', { tool_choice: 'required' }, 'tool_choice'],
    ['a named tool', { tool_choice: { type: 'function', function: { name: 'lookup' } } }, 'tool_choice'],
    ['audio', { modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'mp3' } }, 'modalities'],
    ['audio settings alone', { audio: { voice: 'alloy', format: 'mp3' } }, 'audio'],
  ];
  it.each(cases)('%s', async (_name, body, param) => {
    const before = await usageTotals(stage);
    for (const stream of [false, true]) {
      const error = expectOpenAiError(await ask({ ...body, stream }), 400, 'unsupported_parameter', 'invalid_request_error');
      expect(error.param).toBe(param);
    }
    expect(stage.llm.requests).toHaveLength(0);
    expect(await usageTotals(stage)).toEqual(before);
  });

  it('the SDK\'s parse() raises BadRequestError naming response_format, not a JSON syntax error about the reply', async () => {
    const client = sdk(stage, stage.key.key);
    const error = await client.chat.completions
      .parse({ model: stage.bot.slug, messages: [{ role: 'user', content: 'Where is the hotel?' }], response_format: { type: 'json_schema', json_schema: { name: 'place', strict: true, schema } } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).param).toBe('response_format');
    expect(stage.llm.requests).toHaveLength(0);
  });
});

describe('the same options at their usual values', () => {
  it('are answered as text', async () => {
    const answer = await ask({ response_format: { type: 'text' }, logprobs: false, top_logprobs: null, tool_choice: 'none', modalities: ['text'], audio: null });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json.choices[0].message.content).toBe('You said: Hello');
    expect(answer.json.choices[0].logprobs).toBeNull();
    const auto = await ask({ tool_choice: 'auto', tools: [] });
    expect(auto.status, auto.text).toBe(200);
    expect(stage.llm.requests).toHaveLength(2);
  });
});
