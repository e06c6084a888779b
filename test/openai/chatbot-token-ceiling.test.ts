// A chatbot's `max_tokens` is what its owner allows one reply to cost. A call on
// /v1/chat/completions may ask for fewer, not more: a key holder's `max_tokens: 100000` used to
// replace the owner's 50, and the model was asked for 100,000. `finish_reason` tells `length`
// when the reply reached whichever limit applied, the chatbot's too.
import { describe, expect, it } from 'vitest';
import { useOpenAiStage, post, sdk } from './stage.js';

const stage = useOpenAiStage({}, { chatbot: { max_tokens: 50 } });

const ask = (body: Record<string, unknown>) => post(stage, stage.key.key, { model: stage.bot.slug, messages: [{ role: 'user', content: 'Hello there' }], ...body });

describe("a chatbot's max_tokens on the OpenAI endpoint", () => {
  it('is a ceiling: a call asking for more is sent the chatbot’s, one asking for less its own', async () => {
    for (const body of [{ max_tokens: 100_000 }, { max_completion_tokens: 51 }, { max_tokens: 20 }, {}]) {
      const answer = await ask(body);
      expect(answer.status, answer.text).toBe(200);
    }
    expect(stage.llm.requests.map((request) => request.body.max_tokens)).toEqual([50, 50, 20, 50]);
  });

  it('ends a reply that reached it with finish_reason length, whole or streamed', async () => {
    // Eight words; the chatbot allows 50 tokens, the call asks nothing: the chatbot's limit applies.
    stage.llm.setReply(() => 'one two three four five six seven eight');
    const client = sdk(stage, stage.key.key);
    await stage.t.request({ method: 'PATCH', url: `/v1/chatbots/${stage.bot.id}`, headers: { authorization: `Bearer ${stage.owner.accessToken}` }, payload: { max_tokens: 4 } });
    try {
      const whole = await client.chat.completions.create({ model: stage.bot.slug, messages: [{ role: 'user', content: 'Count' }] });
      expect(whole.choices[0]!.finish_reason).toBe('length');
      const stream = await client.chat.completions.create({ model: stage.bot.slug, messages: [{ role: 'user', content: 'Count' }], stream: true });
      const reasons: Array<string | null> = [];
      for await (const chunk of stream) reasons.push(chunk.choices[0]?.finish_reason ?? null);
      expect(reasons.filter((reason) => reason !== null)).toEqual(['length']);
      const roomy = await client.chat.completions.create({ model: stage.bot.slug, messages: [{ role: 'user', content: 'Count' }], max_tokens: 2 });
      expect(roomy.choices[0]!.finish_reason).toBe('length');
    } finally {
      await stage.t.request({ method: 'PATCH', url: `/v1/chatbots/${stage.bot.id}`, headers: { authorization: `Bearer ${stage.owner.accessToken}` }, payload: { max_tokens: 50 } });
    }
  });
});
