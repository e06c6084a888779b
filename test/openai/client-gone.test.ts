// A client that leaves before its whole (not streamed) answer: the OpenAI SDK's own timeout, a
// proxy's, a user closing the app. On /v1/chat/completions nothing is kept for the client to read
// later, so the model call stops, as a stream's does (§6.1): it used to run to the end, and the
// SDK's two retries of a timed-out request made one slow answer three paid model calls, each
// holding a slot of MAX_CONCURRENT_TURNS meanwhile. A conversation's turn is different: its reply
// is part of the conversation, read later from the history (docs/decisions.md, chat core), so
// it is still finished and stored.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createConversation } from '../helpers/chat.js';
import { bearer } from '../helpers/factories.js';
import { openAiStage, sdk, type Stage } from './stage.js';

let stage: Stage;
beforeAll(async () => {
  // A slow model: the whole answer comes after 2 s.
  stage = await openAiStage({}, { llm: { firstTokenDelayMs: 2000 } });
});
afterAll(async () => {
  await stage?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a non-streamed chat completion whose client leaves', () => {
  it('stops its model call, so an SDK timeout and its retries do not each buy a whole answer', { timeout: 30_000 }, async () => {
    stage.llm.reset();
    const client = sdk(stage, stage.key.key, { timeout: 400, maxRetries: 2 });
    const failed = await client.chat.completions
      .create({ model: stage.bot.slug, messages: [{ role: 'user', content: 'What time is breakfast?' }], user: 'guest-1' })
      .then(() => null, (error: Error) => error.constructor.name);
    expect(failed).toBe('APIConnectionTimeoutError');
    // Every attempt's model call has had time to finish by now, had it been left running.
    await sleep(3000);
    const calls = stage.llm.requests.map((r) => ({ finished: r.finished, aborted: r.aborted }));
    // Three attempts; one that timed out before its turn reached the model (a slow machine) asked nothing.
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls.length).toBeLessThanOrEqual(3);
    expect(calls).toEqual(calls.map(() => ({ finished: false, aborted: true })));
  });

  it('leaves a client that waits answered in full', { timeout: 30_000 }, async () => {
    stage.llm.reset();
    const answer = await sdk(stage, stage.key.key).chat.completions.create({ model: stage.bot.slug, messages: [{ role: 'user', content: 'What time is breakfast?' }], user: 'guest-2' });
    expect(answer.choices[0]!.finish_reason).toBe('stop');
    expect(answer.choices[0]!.message.content).not.toBe('');
    expect(stage.llm.requests.map((r) => r.finished)).toEqual([true]);
  });
});

describe('a conversation turn (not streamed) whose client leaves', () => {
  it('is still answered and stored complete, to be read from the history', { timeout: 30_000 }, async () => {
    stage.llm.reset();
    const conversation = await createConversation(stage.t, stage.owner, { chatbot_id: stage.bot.id });
    const sent = fetch(`${stage.base}/v1/conversations/${conversation.id}/messages`, {
      method: 'POST',
      headers: { ...bearer(stage.owner.accessToken), 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'What time is breakfast?' }),
      signal: AbortSignal.timeout(400),
    });
    await expect(sent).rejects.toThrow();
    await vi.waitFor(
      async () => {
        const history = await stage.t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/messages`, headers: bearer(stage.owner.accessToken) });
        const messages = (history.json() as { data: Array<{ role: string; status: string }> }).data;
        expect(messages.map((m) => [m.role, m.status])).toEqual([
          ['user', 'complete'],
          ['assistant', 'complete'],
        ]);
      },
      { timeout: 10_000, interval: 200 },
    );
    expect(stage.llm.requests.map((r) => r.finished)).toEqual([true]);
  });
});
