// Tools sent with `tool_choice: "none"`: the model is told not to call any and to answer in text,
// which is all a Parley chatbot does. The AI SDK sends its call's tools whatever its toolChoice
// (`generateText({ tools, toolChoice: 'none' })`, an agent's last step), and LangChain's
// `bind_tools(…, tool_choice="none")` alike; OpenAI answers those with text. Parley refused them
// with 400 `tools`, so the app could not use a chatbot where it uses any other model. Tools the
// model may call (no tool_choice, "auto", "required", a named one) are still refused.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, jsonSchema, tool } from 'ai';
import { describe, expect, it } from 'vitest';
import { expectOpenAiError, frames, useOpenAiStage, post } from './stage.js';

const stage = useOpenAiStage();

const tools = [{ type: 'function', function: { name: 'lookup_booking', description: 'Find a booking', parameters: { type: 'object', properties: { ref: { type: 'string' } } } } }];
const functions = [{ name: 'lookup_booking', parameters: { type: 'object', properties: {} } }];
const ask = (body: Record<string, unknown>) => post(stage, stage.key.key, { model: stage.bot.slug, messages: [{ role: 'user', content: 'When is checkout?' }], ...body });

describe('tools the model is told not to call', () => {
  it('are answered with the chatbot\'s text, whole and streamed; the model is not sent them', async () => {
    for (const stream of [false, true]) {
      const answer = await ask({ tools, tool_choice: 'none', stream });
      expect(answer.status, answer.text).toBe(200);
      const text = stream
        ? frames(answer.text)
            .filter((frame): frame is { choices: Array<{ delta: { content?: string } }> } => frame !== '[DONE]')
            .map((frame) => frame.choices[0]?.delta.content ?? '')
            .join('')
        : answer.json.choices[0].message.content;
      expect(text).toBe('You said: When is checkout?');
    }
    const legacy = await ask({ functions, function_call: 'none' });
    expect(legacy.status, legacy.text).toBe(200);
    expect(legacy.json.choices[0].message.content).toBe('You said: When is checkout?');
    expect(stage.llm.requests).toHaveLength(3);
    for (const request of stage.llm.requests) {
      expect(request.body.tools).toBeUndefined();
      expect(request.body.functions).toBeUndefined();
    }
  });

  it('the AI SDK\'s generateText with tools and toolChoice "none" gets the answer', async () => {
    const provider = createOpenAICompatible({ name: 'parley', baseURL: `${stage.base}/v1`, apiKey: stage.key.key });
    const result = await generateText({
      model: provider.chatModel(stage.bot.slug),
      prompt: 'When is checkout?',
      tools: { lookup_booking: tool({ description: 'Find a booking', inputSchema: jsonSchema<{ ref: string }>({ type: 'object', properties: { ref: { type: 'string' } } }) }) },
      toolChoice: 'none',
      maxRetries: 0,
    });
    expect(result.text).toBe('You said: When is checkout?');
    expect(result.toolCalls).toEqual([]);
  });
});

describe('tools the model may call', () => {
  it.each([
    ['no tool_choice', { tools }, 'tools'],
    ['"auto"', { tools, tool_choice: 'auto' }, 'tools'],
    ['"required"', { tools, tool_choice: 'required' }, 'tools'],
    ['a named tool', { tools, tool_choice: { type: 'function', function: { name: 'lookup_booking' } } }, 'tools'],
    ['legacy functions', { functions }, 'functions'],
    ['legacy functions, "auto"', { functions, function_call: 'auto' }, 'functions'],
  ])('%s: still 400 unsupported_parameter, the model not called', async (_name, body, param) => {
    const error = expectOpenAiError(await ask(body), 400, 'unsupported_parameter', 'invalid_request_error');
    expect(error.param).toBe(param);
    expect(stage.llm.requests).toHaveLength(0);
  });
});
