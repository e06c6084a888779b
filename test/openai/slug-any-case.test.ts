// On the OpenAI-compatible endpoints `model` may name a chatbot by its slug, and slugs are
// lowercase. A client that wrote the slug as the chatbot's name reads (`Support-Bot` for
// `support-bot`) got 404 model_not_found from the official SDK, on /v1/chat/completions and
// /v1/models/{id} alike, with a key or an account's token. The slug now names its chatbot in any
// case, as the public routes already read it; retrieving answers the slug as stored. It still
// reaches the caller's own chatbot only, and a slug the chatbot gave up names nothing.
import type OpenAI from 'openai';
import { NotFoundError, type APIError } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { openAiStage, sdk, SYSTEM_PROMPT, type Stage } from './stage.js';

let stage: Stage;
let slug: string;
let key: OpenAI;
/** The slug as a person writes the chatbot's name: `Support-Desk-1a2b3c`. */
let written: string;
beforeAll(async () => {
  stage = await openAiStage();
  const suffix = Math.random().toString(36).slice(2, 8);
  slug = `support-desk-${suffix}`;
  written = `Support-Desk-${suffix.toUpperCase()}`;
  const bot = await createChatbot(stage.t, stage.owner, { name: 'Support desk', slug, system_prompt: SYSTEM_PROMPT });
  key = sdk(stage, (await createApiKey(stage.t, stage.owner.accessToken, bot.id)).key);
});
afterEach(() => stage.llm.reset());
afterAll(async () => {
  await stage?.close();
});

const ask = (content: string) => [{ role: 'user' as const, content }];

async function expectModelNotFound(pending: Promise<unknown>) {
  const error = await pending.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NotFoundError);
  expect((error as APIError).code).toBe('model_not_found');
}

describe('a chatbot named by its slug in another case', () => {
  it('answers a key whole and streamed, as that chatbot', async () => {
    const whole = await key.chat.completions.create({ model: written, messages: ask('Whole') });
    expect(whole.choices[0]!.message.content).toBe('You said: Whole');
    const streamed = await key.chat.completions.stream({ model: written.toUpperCase(), messages: ask('Streamed') }).finalChatCompletion();
    expect(streamed.choices[0]!.message.content).toBe('You said: Streamed');
    expect(stage.llm.requests).toHaveLength(2);
    for (const request of stage.llm.requests) expect(request.messages[0]!.content).toContain(SYSTEM_PROMPT);
  });

  it('answers the owner\'s account token', async () => {
    const account = sdk(stage, stage.owner.accessToken);
    const completion = await account.chat.completions.create({ model: written, messages: ask('From the owner') });
    expect(completion.choices[0]!.message.content).toBe('You said: From the owner');
    expect(stage.llm.requests[0]!.messages[0]!.content).toContain(SYSTEM_PROMPT);
  });

  it('is retrieved from /v1/models with the slug as stored, by a key and by the account', async () => {
    for (const client of [key, sdk(stage, stage.owner.accessToken)]) {
      const model = await client.models.retrieve(written);
      expect(model).toMatchObject({ id: slug, object: 'model', owned_by: 'chatbot' });
    }
  });

  it('reaches no one else\'s chatbot: another account, or a key for another chatbot of the same owner', async () => {
    const stranger = await registerUser(stage.t);
    const theirs = sdk(stage, stranger.accessToken);
    await expectModelNotFound(theirs.chat.completions.create({ model: written, messages: ask('x') }));
    await expectModelNotFound(theirs.models.retrieve(written));
    const other = await createChatbot(stage.t, stage.owner, { name: 'Other desk' });
    const otherKey = sdk(stage, (await createApiKey(stage.t, stage.owner.accessToken, other.id)).key);
    await expectModelNotFound(otherKey.chat.completions.create({ model: written, messages: ask('x') }));
    await expectModelNotFound(otherKey.models.retrieve(written));
    expect(stage.llm.requests).toHaveLength(0);
  });

  it('names nothing once the chatbot has another slug, in any case', async () => {
    const bot = await createChatbot(stage.t, stage.owner, { name: 'Moving desk', slug: `${slug}-moving` });
    const moving = sdk(stage, (await createApiKey(stage.t, stage.owner.accessToken, bot.id)).key);
    await moving.chat.completions.create({ model: `${written}-Moving`, messages: ask('Before') });
    const renamed = await stage.t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(stage.owner.accessToken), payload: { slug: `${slug}-moved` } });
    expect(renamed.statusCode, renamed.body).toBe(200);
    stage.llm.reset();
    await expectModelNotFound(moving.chat.completions.create({ model: `${written}-Moving`, messages: ask('After') }));
    await expectModelNotFound(moving.chat.completions.create({ model: `${slug}-moving`, messages: ask('After') }));
    expect(stage.llm.requests).toHaveLength(0);
    const now = await moving.chat.completions.create({ model: `${written}-Moved`, messages: ask('Moved') });
    expect(now.choices[0]!.message.content).toBe('You said: Moved');
  });
});
