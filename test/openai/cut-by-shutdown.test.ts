// An answer the server itself cuts short — it shuts down (SIGTERM) while the model is still
// writing and SHUTDOWN_GRACE_MS runs out — is not the model's answer. Nothing keeps it for the
// client to read later (a completion stores no conversation), so the client must be told: before
// the first byte the 503 the SDK retries elsewhere, after it the error frame (§8: never a silent
// end that looks like success). It was answered as finished: a whole answer 200 with empty content
// and `finish_reason: "stop"`, a stream cut mid-sentence that ended with `stop` and `[DONE]`.
import { APIError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { openAiStage, sdk, type Stage } from './stage.js';

let stage: Stage | undefined;
afterEach(async () => {
  await stage?.close();
  stage = undefined;
});

const long = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');

describe('a chat completion the server cuts short as it shuts down', () => {
  it('whole: answers 503 service_unavailable, which the SDK raises, not an empty answer', { timeout: 30_000 }, async () => {
    stage = await openAiStage({ SHUTDOWN_GRACE_MS: '200' }, { llm: { firstTokenDelayMs: 3000 } });
    const answered = sdk(stage, stage.key.key)
      .chat.completions.create({ model: stage.bot.slug, messages: [{ role: 'user', content: 'Tell me everything' }] })
      .then((answer) => ({ content: answer.choices[0]!.message.content, finish: answer.choices[0]!.finish_reason }), (error: unknown) => error);
    await stage.llm.waitFor((requests) => requests.length === 1);
    await stage.t.app.close();
    const outcome = await answered;
    expect(outcome).toBeInstanceOf(APIError);
    expect((outcome as APIError).status).toBe(503);
    expect((outcome as APIError).code).toBe('service_unavailable');
  });

  it('streamed: ends with an error frame after the text so far, which the SDK raises, not with finish_reason and [DONE]', { timeout: 30_000 }, async () => {
    stage = await openAiStage({ SHUTDOWN_GRACE_MS: '200' }, { llm: { chunkDelayMs: 100, reply: () => long } });
    const stream = await sdk(stage, stage.key.key).chat.completions.create({ model: stage.bot.slug, stream: true, messages: [{ role: 'user', content: 'Tell me everything' }] });
    let text = '';
    let finish: string | null = null;
    let closing: Promise<void> | null = null;
    const read = (async () => {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (!closing && text.includes('word2')) closing = stage!.t.app.close();
      }
    })().then(() => null, (error: unknown) => error);
    const outcome = await read;
    await closing;
    expect(text).toMatch(/^word0 word1 word2/);
    expect(text).not.toContain('word39');
    expect(finish).toBeNull();
    expect(outcome).toBeInstanceOf(APIError);
    expect((outcome as APIError).message).toMatch(/before the model finished/);
  });
});
