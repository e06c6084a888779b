// What a developer reads when a message is refused. A text-only chatbot refuses images, audio,
// files, tool results and tool calls in `messages`, but the 400 said why in words that were
// wrong: an image part sent with the `openai` SDK raised `BadRequestError: 400 The request does
// not match the expected schema: messages.0.content must be string` (an array of text parts is
// accepted, so the developer was sent the wrong way), a `tool` message `messages.1.role must be
// equal to constant`, and an agent's history with an assistant tool call `messages.1.content
// must be string`. The refusal now names what is not supported, in OpenAI's shape, with the
// parameter; still nothing is counted and the model is not asked.
import { BadRequestError } from 'openai';
import { describe, expect, it } from 'vitest';
import { expectOpenAiError, useOpenAiStage, post, sdk, usageTotals } from './stage.js';

const stage = useOpenAiStage();

const hi = { role: 'user', content: 'Hi' };
const image = { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } };
const toolCall = { id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{}' } };

// [what is sent, the parameter named, what the message must say]
const cases: Array<[string, unknown[], string, RegExp]> = [
  ['an image part beside text', [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, image] }], 'messages.0.content.1.type', /image_url.*not supported.*text only/i],
  ['an audio part', [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }], 'messages.0.content.0.type', /input_audio.*not supported/i],
  ['a file part', [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-1' } }] }], 'messages.0.content.0.type', /file.*not supported/i],
  ['a tool result', [hi, { role: 'tool', tool_call_id: 'call_1', content: '42' }, hi], 'messages.1.role', /tool.*not supported.*no tools/i],
  ['a legacy function result', [hi, { role: 'function', name: 'lookup', content: '42' }, hi], 'messages.1.role', /function.*not supported.*no tools/i],
  ['an assistant tool call in the history', [hi, { role: 'assistant', content: null, tool_calls: [toolCall] }, hi], 'messages.1.tool_calls', /tool calls.*not supported.*no tools/i],
  ['a role OpenAI does not have', [{ role: 'bot', content: 'x' }, hi], 'messages.0.role', /system, developer, user.*assistant/],
  ['content that is a number', [{ role: 'user', content: 7 }], 'messages.0.content', /string or an array of text parts/],
  ['a part that is a bare string', [{ role: 'user', content: ['Hi'] }], 'messages.0.content.0', /text part/],
  ['a text part without text', [{ role: 'user', content: [{ type: 'text' }] }], 'messages.0.content.0.text', /string/],
];

describe('a message form a text-only chatbot refuses → 400 saying what is not supported', () => {
  it.each(cases)('%s', async (_name, messages, param, says) => {
    const before = await usageTotals(stage);
    for (const stream of [false, true]) {
      const answer = await post(stage, stage.key.key, { model: stage.bot.slug, messages, stream });
      const error = expectOpenAiError(answer, 400, answer.json?.error?.code, 'invalid_request_error');
      expect(error.param).toBe(param);
      expect(error.message).toMatch(says);
      expect(error.message).not.toMatch(/must be string|equal to constant/);
    }
    expect(stage.llm.requests).toHaveLength(0);
    expect(await usageTotals(stage)).toEqual(before);
  });

  it('the openai SDK raises BadRequestError naming the image part, not "must be string"', async () => {
    const client = sdk(stage, stage.key.key);
    const error = await client.chat.completions
      .create({ model: stage.bot.slug, messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).param).toBe('messages.0.content.1.type');
    expect((error as BadRequestError).message).toMatch(/^400 .*image_url.*not supported/);
    expect(stage.llm.requests).toHaveLength(0);
  });

  it('text parts, developer messages and names are still answered', async () => {
    const answer = await post(stage, stage.key.key, {
      model: stage.bot.slug,
      messages: [
        { role: 'developer', content: [{ type: 'text', text: 'Be brief.' }], name: 'ops' },
        { role: 'user', content: [{ type: 'text', text: 'Hi' }], name: 'alice' },
      ],
    });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json.choices[0].message.content).toBe('You said: Hi');
  });
});
