// The official `openai` SDK (6.x) against Parley (§8): a chatbot reached by changing the base URL,
// whole and streamed, its prompt and knowledge in front of the client's messages, usage counted
// for the owner, and Parley's errors raised as the SDK's own classes: before the first byte by
// status, after it as an APIError from the stream. Answers a retry would repeat are not retried.
import type OpenAI from 'openai';
import { APIError, AuthenticationError, InternalServerError, NotFoundError, RateLimitError } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { get, openAiStage, sdk, SYSTEM_PROMPT, usageTotals, type Stage } from './stage.js';

let stage: Stage;
let client: OpenAI;
beforeAll(async () => {
  stage = await openAiStage();
  client = sdk(stage, stage.key.key);
});
afterEach(() => stage.llm.reset());
afterAll(async () => {
  await stage?.close();
});

const ask = (content: string) => [{ role: 'user' as const, content }];

describe('models', () => {
  it('lists what the key may use: its chatbot by slug, then the models it allows', async () => {
    const models: OpenAI.Models.Model[] = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((m) => m.id)).toEqual([stage.bot.slug, 'fake-model', 'fake-model-mini']);
    for (const model of models) {
      expect(model.object).toBe('model');
      expect(Number.isInteger(model.created) && model.created > 1_600_000_000).toBe(true);
      expect(typeof model.owned_by).toBe('string');
    }
  });

  it('retrieves the chatbot by slug or id and an allowed model; anything else is NotFoundError', async () => {
    expect((await client.models.retrieve(stage.bot.slug)).id).toBe(stage.bot.slug);
    expect((await client.models.retrieve(stage.bot.id)).id).toBe(stage.bot.id);
    expect((await client.models.retrieve('fake-model-mini')).owned_by).toBe('parley');
    const error = await client.models.retrieve('gpt-4o').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as APIError).code).toBe('model_not_found');
  });

  it('a name longer than a path segment the router takes, or with a slash, is NotFoundError too, in OpenAI\'s shape', async () => {
    const error = await client.models.retrieve('fine-tuned-'.repeat(20)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as APIError).code).toBe('model_not_found');
    const slashed = await get(stage, stage.key.key, '/v1/models/openai/gpt-4o');
    expect(slashed.status).toBe(404);
    expect(slashed.json.error).toMatchObject({ code: 'model_not_found', param: 'model' });
    const anonymous = await get(stage, null, `/v1/models/${'x'.repeat(300)}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.json).toEqual((await get(stage, null, '/v1/models/x')).json);
  });

  it('an account lists its own chatbots only', async () => {
    const account = sdk(stage, stage.owner.accessToken);
    const ids: string[] = [];
    for await (const model of account.models.list()) ids.push(model.id);
    expect(ids).toContain(stage.bot.slug);
    expect(ids).not.toContain('fake-model');
  });
});

describe('chat.completions.create', () => {
  it('answers whole, as the chatbot, with OpenAI\'s shape and the reply\'s usage', async () => {
    const completion = await client.chat.completions.create({ model: stage.bot.slug, messages: ask('What time is check-in?') });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(completion.model).toBe(stage.bot.slug);
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'You said: What time is check-in?', refusal: null } });
    const usage = completion.usage!;
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeGreaterThan(0);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(stage.llm.requests).toHaveLength(1);
    expect(stage.llm.requests[0]!.model).toBe('fake-model');
  });

  it('puts the chatbot\'s system prompt first and the client\'s system message after it, then the conversation', async () => {
    await client.chat.completions.create({
      model: stage.bot.id,
      messages: [
        { role: 'system', content: 'Answer in one sentence.' },
        { role: 'user', content: 'Do you have parking?' },
        { role: 'assistant', content: 'Yes, underground.' },
        { role: 'user', content: [{ type: 'text', text: 'How much is it?' }] },
      ],
    });
    const seen = stage.llm.requests[0]!.messages;
    expect(seen[0]!.role).toBe('system');
    expect(seen[0]!.content).toContain(SYSTEM_PROMPT);
    const flat = JSON.stringify(seen);
    expect(flat.indexOf('Answer in one sentence.')).toBeGreaterThan(flat.indexOf(SYSTEM_PROMPT));
    const rest = seen.filter((m) => m.role !== 'system');
    expect(rest).toEqual([
      { role: 'user', content: 'Do you have parking?' },
      { role: 'assistant', content: 'Yes, underground.' },
      { role: 'user', content: 'How much is it?' },
    ]);
  });

  it('sends the model only the newest of a long client conversation that fit CONTEXT_TOKEN_BUDGET (8000)', async () => {
    // About 0.8 MB: 40 messages of about 3,600 tokens each. Two of them fit beside the system prompt and the question.
    const long = (i: number) => `m${i} ` + 'the harbour view from the terrace '.repeat(600);
    const history = Array.from({ length: 40 }, (_, i) => ({ role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant', content: long(i) }));
    const completion = await client.chat.completions.create({ model: stage.bot.slug, messages: [...history, { role: 'user', content: 'Is breakfast included?' }] });
    expect(completion.choices[0]!.message.content).toBe('You said: Is breakfast included?');
    const seen = stage.llm.requests[0]!.messages.filter((m) => m.role !== 'system');
    expect(seen.map((m) => m.content.split(' ')[0])).toEqual(['m38', 'm39', 'Is']);
  });

  it('uses an allowed model when `model` names one, and passes temperature and max_tokens on', async () => {
    await client.chat.completions.create({ model: 'fake-model-mini', messages: ask('Hi'), temperature: 0.3, max_completion_tokens: 200 });
    const upstream = stage.llm.requests[0]!;
    expect(upstream.model).toBe('fake-model-mini');
    expect(upstream.body.temperature).toBe(0.3);
    expect(upstream.body.max_tokens).toBe(200);
    expect(upstream.messages[0]!.content).toContain(SYSTEM_PROMPT);
  });

  it('streams: the first chunk names the role, the text arrives in deltas, the last carries finish_reason', async () => {
    stage.llm.setReply(() => 'Check-in is from three in the afternoon.');
    const stream = await client.chat.completions.create({ model: stage.bot.slug, messages: ask('Check-in?'), stream: true });
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Check-in is from three in the afternoon.');
    expect(new Set(chunks.map((c) => `${c.id} ${c.created} ${c.model}`)).size).toBe(1);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
  });

  it('.stream().finalChatCompletion() assembles the answer (it throws on a missing role or finish_reason)', async () => {
    const runner = client.chat.completions.stream({ model: stage.bot.slug, messages: ask('Is breakfast included?'), stream_options: { include_usage: true } });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'You said: Is breakfast included?' });
    expect(final.choices[0]!.finish_reason).toBe('stop');
    expect(final.usage!.total_tokens).toBe(final.usage!.prompt_tokens + final.usage!.completion_tokens);
    expect(final.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('an account names its own chatbot by slug', async () => {
    const account = sdk(stage, stage.owner.accessToken);
    const completion = await account.chat.completions.create({ model: stage.bot.slug, messages: ask('From the owner') });
    expect(completion.choices[0]!.message.content).toBe('You said: From the owner');
    expect(stage.llm.requests[0]!.messages[0]!.content).toContain(SYSTEM_PROMPT);
  });
});

describe('what the chatbot knows and what it costs', () => {
  it('knowledge from the chatbot\'s knowledge base reaches the prompt', async () => {
    const doc = 'The Harbour Hotel spa opens at seven and closes at nine; towels are free for guests.';
    const added = await stage.t.request({ method: 'POST', url: `/v1/chatbots/${stage.bot.id}/knowledge`, headers: bearer(stage.owner.accessToken), payload: { title: 'Spa', content: doc } });
    expect(added.statusCode, added.body).toBe(201);
    await client.chat.completions.create({ model: stage.bot.slug, messages: ask('When does the spa open?') });
    expect(JSON.stringify(stage.llm.requests[0]!.messages)).toContain('spa opens at seven');
  });

  it('counts usage in the owner\'s GET /v1/usage, whole and streamed', async () => {
    // An owner of its own: the other tests' calls are not in these totals.
    const owner = await registerUser(stage.t);
    const bot = await createChatbot(stage.t, owner, { name: 'Counted desk' });
    const counted = sdk(stage, (await createApiKey(stage.t, owner.accessToken, bot.id)).key);
    const whole = await counted.chat.completions.create({ model: bot.slug, messages: ask('Count me') });
    const streamed = await counted.chat.completions.stream({ model: bot.slug, messages: ask('Count me too'), stream_options: { include_usage: true } }).finalChatCompletion();
    // Usage is written a moment after the answer, added up with the moment's other calls: exactly.
    await vi.waitFor(async () => {
      expect(await usageTotals({ t: stage.t, owner })).toEqual({ messages: 2, tokens: whole.usage!.total_tokens + streamed.usage!.total_tokens });
    });
  });

  it('stores no conversation: only usage', async () => {
    const messages = await stage.t.count('messages');
    await client.chat.completions.create({ model: stage.bot.slug, messages: ask('Not kept') });
    expect(await stage.t.count('messages')).toBe(messages);
  });
});

describe('errors as the SDK\'s classes', () => {
  it('a forged key is AuthenticationError; an unknown model NotFoundError', async () => {
    const forged = `${stage.key.key.slice(0, -1)}${stage.key.key.endsWith('A') ? 'B' : 'A'}`;
    const unauthorized = await sdk(stage, forged).chat.completions.create({ model: stage.bot.slug, messages: ask('x') }).catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(AuthenticationError);
    const missing = await client.chat.completions.create({ model: 'gpt-4o', messages: ask('x') }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as APIError).code).toBe('model_not_found');
    expect(stage.llm.requests).toHaveLength(0);
  });

  it('a spent monthly budget is RateLimitError with retry-after, and the SDK does not retry it', async () => {
    const bot = await createChatbot(stage.t, stage.owner, { name: 'Thrifty desk', token_budget_monthly: 1 });
    const key = await createApiKey(stage.t, stage.owner.accessToken, bot.id);
    await sdk(stage, key.key).chat.completions.create({ model: bot.id, messages: ask('Spend it') });
    let attempts = 0;
    const counting: typeof fetch = (input, init) => {
      attempts++;
      return fetch(input, init);
    };
    // The SDK's default: two retries of a 429, unless the answer says not to.
    const retrying = sdk(stage, key.key, { maxRetries: 2, fetch: counting });
    const error = await retrying.chat.completions.create({ model: bot.id, messages: ask('More') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    const refused = error as RateLimitError;
    expect(refused.code).toBe('insufficient_quota');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('x-should-retry')).toBe('false');
    expect(attempts).toBe(1);
    expect(stage.llm.requests).toHaveLength(1);
  });

  it('a model failure is a 502 marked x-should-retry: false, so the SDK does not call the model again', async () => {
    stage.llm.fail({ kind: 'status', status: 500 });
    const retrying = sdk(stage, stage.key.key, { maxRetries: 2 });
    const error = await retrying.chat.completions.create({ model: stage.bot.slug, messages: ask('Fail once') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as APIError).status).toBe(502);
    expect((error as APIError).headers!.get('x-should-retry')).toBe('false');
    expect(stage.llm.requests).toHaveLength(1);
  });

  it('an upstream failure after the first byte raises APIError from the stream', async () => {
    stage.llm.setReply(() => 'one two three four five six');
    stage.llm.fail({ kind: 'stream-error', afterChunks: 2 });
    const stream = await client.chat.completions.create({ model: stage.bot.slug, messages: ask('Break'), stream: true });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).code).toBe('llm_unavailable');
    expect((error as APIError).message).toMatch(/model could not answer/);
    expect(seen.join('')).toBe('one two ');
  });
});
