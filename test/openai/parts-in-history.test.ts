// A chat client keeps what its user sent: once a user attached an image in a chat with this
// text-only chatbot (refused 400, as the last message still is), clients such as Open WebUI send
// that message again in the history of every later call, and each was refused 400 — the chat was
// dead. An assistant's `refusal` part in the history (OpenAI's form for a model's refusal) was
// refused too. Now the history's images, audio and files are left out (its text parts kept, as
// the AI SDK endpoint leaves out files; a message with nothing else is left out), and a refusal
// part is read as the assistant's text.
import { describe, expect, it } from 'vitest';
import { useOpenAiStage, sdk } from './stage.js';

const stage = useOpenAiStage();

const image = { type: 'image_url' as const, image_url: { url: 'https://example.com/cat.png' } };
const audio = { type: 'input_audio' as const, input_audio: { data: 'AAAA', format: 'wav' as const } };

describe('a history holding parts this chatbot does not read', () => {
  it.each([false, true])('is answered from its text (stream: %s); the model reads the text parts and the refusal', async (stream) => {
    const client = sdk(stage, stage.key.key);
    const messages = [
      { role: 'user' as const, content: [{ type: 'text' as const, text: 'What is in this picture?' }, image] },
      { role: 'assistant' as const, content: [{ type: 'refusal' as const, refusal: 'I cannot see pictures.' }] },
      { role: 'user' as const, content: [audio] },
      { role: 'assistant' as const, content: 'I cannot hear sound either.' },
      { role: 'user' as const, content: 'Then where is the pool?' },
    ];
    if (stream) {
      const chunks = await client.chat.completions.create({ model: stage.bot.slug, messages, stream: true });
      let text = '';
      for await (const chunk of chunks) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('You said: Then where is the pool?');
    } else {
      const answer = await client.chat.completions.create({ model: stage.bot.slug, messages });
      expect(answer.choices[0]!.message.content).toBe('You said: Then where is the pool?');
    }
    const asked = stage.llm.requests.at(-1)!.messages.filter((m) => m.role !== 'system');
    // The message of only a sound has nothing left to read.
    expect(asked.slice(-4)).toEqual([
      { role: 'user', content: 'What is in this picture?' },
      { role: 'assistant', content: 'I cannot see pictures.' },
      { role: 'assistant', content: 'I cannot hear sound either.' },
      { role: 'user', content: 'Then where is the pool?' },
    ]);
  });
});
