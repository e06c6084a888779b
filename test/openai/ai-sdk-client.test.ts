// `@ai-sdk/openai-compatible` as a client of POST /v1/chat/completions (§8): the AI SDK's own
// response and chunk schemas read Parley's answers, whole (generateText) and streamed
// (streamText), with usage when asked for, the end user passed as `user`, and an upstream
// failure after the first byte surfaced as an error rather than a quiet, short success.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText } from 'ai';
import { describe, expect, it } from 'vitest';
import { useOpenAiStage, SYSTEM_PROMPT } from './stage.js';

const stage = useOpenAiStage();

const provider = (includeUsage = false) => createOpenAICompatible({ name: 'parley', baseURL: `${stage.base}/v1`, apiKey: stage.key.key, includeUsage });

describe('@ai-sdk/openai-compatible', () => {
  it('generateText: the chatbot\'s answer, finish reason and usage', async () => {
    const result = await generateText({ model: provider().chatModel(stage.bot.slug), system: 'Be brief.', prompt: 'Where is the pool?', maxRetries: 0 });
    expect(result.text).toBe('You said: Where is the pool?');
    expect(result.finishReason).toBe('stop');
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    const seen = stage.llm.requests[0]!.messages;
    expect(seen[0]!.content).toContain(SYSTEM_PROMPT);
    expect(JSON.stringify(seen).indexOf('Be brief.')).toBeGreaterThan(JSON.stringify(seen).indexOf(SYSTEM_PROMPT));
  });

  it('streamText: the deltas make the answer; with includeUsage the usage chunk is read', async () => {
    stage.llm.setReply(() => 'The pool is on the roof, open until ten.');
    const result = streamText({ model: provider(true).chatModel(stage.bot.id), prompt: 'Pool?', maxRetries: 0 });
    const parts: string[] = [];
    for await (const text of result.textStream) parts.push(text);
    expect(parts.join('')).toBe('The pool is on the roof, open until ten.');
    expect(parts.length).toBeGreaterThan(1);
    expect(await result.finishReason).toBe('stop');
    const usage = await result.usage;
    expect(usage.inputTokens).toBeGreaterThan(0);
    expect(usage.outputTokens).toBeGreaterThan(0);
    expect(stage.llm.requests[0]!.stream).toBe(true);
  });

  it('passes the end user through providerOptions as `user`', async () => {
    const result = await generateText({ model: provider().chatModel(stage.bot.slug), prompt: 'Hello', providerOptions: { parley: { user: 'guest-42@example.com' } }, maxRetries: 0 });
    expect(result.text).toBe('You said: Hello');
  });

  it('streamText: an upstream failure after the first byte is an error part, not a quiet end', async () => {
    stage.llm.setReply(() => 'one two three four five');
    stage.llm.fail({ kind: 'stream-error', afterChunks: 1 });
    const errors: unknown[] = [];
    const result = streamText({ model: provider().chatModel(stage.bot.slug), prompt: 'Break', maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    const types: string[] = [];
    for await (const part of result.fullStream) types.push(part.type);
    expect(types).toContain('error');
    expect(errors).toHaveLength(1);
    expect(JSON.stringify(errors[0])).toMatch(/model could not answer/);
  });

  it('generateText: an unknown model is refused with OpenAI\'s error, read by the SDK', async () => {
    const error = await generateText({ model: provider().chatModel('no-such-bot'), prompt: 'x', maxRetries: 0 }).catch((e: unknown) => e);
    expect((error as { statusCode?: number }).statusCode).toBe(404);
    expect((error as Error).message).toMatch(/does not exist/);
    expect(stage.llm.requests).toHaveLength(0);
  });
});
