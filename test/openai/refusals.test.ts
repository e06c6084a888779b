// What POST /v1/chat/completions refuses (§8, §12), read raw off the socket: the right status, in
// OpenAI's error shape (never problem+json), with nothing stored, no usage counted and the model
// never called. Bad keys, another chatbot's names, a bad end user, what Parley cannot honour
// (n > 1, tools), malformed messages; unknown fields are ignored, as OpenAI's clients expect.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { until } from '../instances/cluster.js';
import { expectOpenAiError, get, openAiStage, post, usageTotals, type RawAnswer, type Stage } from './stage.js';

let stage: Stage;
let other: { bot: { id: string; slug: string }; key: { key: string } };
beforeAll(async () => {
  stage = await openAiStage();
  const stranger = await registerUser(stage.t);
  const bot = await createChatbot(stage.t, stranger, { name: 'Stranger bot' });
  other = { bot, key: await createApiKey(stage.t, stranger.accessToken, bot.id) };
});
afterAll(async () => {
  await stage?.close();
});

// Every refusal in this file leaves no trace: checked after each test.
let before: { messages: number; usage: { messages: number; tokens: number } };
const snapshot = async () => ({ messages: await stage.t.count('messages'), usage: await usageTotals(stage) });
afterEach(async () => {
  expect(stage.llm.requests).toHaveLength(0);
  expect(await snapshot()).toEqual(before);
  stage.llm.reset();
});

const user = (content = 'Hello') => [{ role: 'user', content }];
const ask = (body: Record<string, unknown>, token: string | null = stage.key.key) => post(stage, token, { model: stage.bot.slug, messages: user(), ...body });

describe('credentials', () => {
  it('no key, a forged checksum, a revoked key → 401 authentication_error / invalid_api_key', async () => {
    before = await snapshot();
    expectOpenAiError(await ask({}, null), 401, 'invalid_api_key', 'authentication_error');
    const forged = `${stage.key.key.slice(0, -1)}${stage.key.key.endsWith('A') ? 'B' : 'A'}`;
    expectOpenAiError(await ask({}, forged), 401, 'invalid_api_key', 'authentication_error');
    const revoked = await createApiKey(stage.t, stage.owner.accessToken, stage.bot.id, 'to revoke');
    const deleted = await stage.t.request({ method: 'DELETE', url: `/v1/chatbots/${stage.bot.id}/keys/${revoked.id}`, headers: bearer(stage.owner.accessToken) });
    expect(deleted.statusCode, deleted.body).toBe(204);
    expectOpenAiError(await ask({}, revoked.key), 401, 'invalid_api_key');
    expectOpenAiError(await get(stage, revoked.key, '/v1/models'), 401, 'invalid_api_key');
  });

  it('another chatbot\'s id or slug is a model that does not exist for this key (404), both ways', async () => {
    before = await snapshot();
    for (const model of [other.bot.id, other.bot.slug]) {
      const error = expectOpenAiError(await ask({ model }), 404, 'model_not_found', 'invalid_request_error');
      expect(error.param).toBe('model');
    }
    expectOpenAiError(await ask({ model: stage.bot.id }, other.key.key), 404, 'model_not_found');
    // The signature's last base64url character carries 4 bits: 'A' and 'Q' differ in them, so the token is really forged.
    const forgedToken = stage.owner.accessToken.replace(/.$/, (last) => (last === 'A' ? 'Q' : 'A'));
    expectOpenAiError(await ask({ model: stage.bot.slug }, forgedToken), 401, 'invalid_api_key');
    const stranger = await registerUser(stage.t);
    expectOpenAiError(await ask({ model: stage.bot.id }, stranger.accessToken), 404, 'model_not_found');
  });

  it('an unknown model → 404 model_not_found', async () => {
    before = await snapshot();
    expectOpenAiError(await ask({ model: 'gpt-4o' }), 404, 'model_not_found');
    expectOpenAiError(await ask({ model: 'gpt-4o', stream: true }), 404, 'model_not_found');
  });
});

describe('requests Parley cannot honour → 400 invalid_request_error naming the parameter', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['n: 2', { n: 2 }, 'n'],
    ['client tools', { tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }] }, 'tools'],
    ['legacy functions', { functions: [{ name: 'lookup' }] }, 'functions'],
    ['`user` outside the pattern', { user: 'not a valid user!' }, 'user'],
    ['`user` over 128 characters', { user: 'u'.repeat(129) }, 'user'],
    ['messages not an array', { messages: 'hello' }, 'messages'],
    ['no messages', { messages: [] }, 'messages'],
    ['a tool message', { messages: [{ role: 'tool', content: 'x', tool_call_id: '1' }, ...user()] }, 'messages.0.role'],
    ['an image part', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }, 'messages.0.content'],
    ['the last message not the user\'s', { messages: [...user(), { role: 'assistant', content: 'Hi' }] }, 'messages'],
    ['temperature out of range', { temperature: 3 }, 'temperature'],
  ];
  it.each(cases)('%s', async (_name, body, param) => {
    before = await snapshot();
    for (const stream of [false, true]) {
      const answer: RawAnswer = await ask({ ...body, ...(stream ? { stream } : {}) });
      const error = expectOpenAiError(answer, 400, answer.json?.error?.code, 'invalid_request_error');
      expect(error.param ?? '').toMatch(new RegExp(`^${param.replaceAll('.', '\\.')}`));
    }
  });

  it('a body that is not JSON → 400 invalid_json', async () => {
    before = await snapshot();
    expectOpenAiError(await post(stage, stage.key.key, '{"model": '), 400, 'invalid_json', 'invalid_request_error');
  });
});

describe('unknown fields', () => {
  it('are ignored: an OpenAI request with every common option is answered', async () => {
    const start = await snapshot();
    const answer = await ask({
      frequency_penalty: 0,
      presence_penalty: 0,
      logit_bias: {},
      seed: 7,
      top_p: 1,
      stop: null,
      metadata: { from: 'test' },
      store: false,
      response_format: { type: 'text' },
      parallel_tool_calls: null,
      tool_choice: 'none',
      tools: [],
      n: 1,
      user: 'alice@example.com',
      messages: [{ role: 'developer', content: 'Be kind.', name: 'ops' }, { role: 'user', content: 'Hi', name: 'alice' }],
    });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json.choices[0].message.content).toBe('You said: Hi');
    expect(stage.llm.requests).toHaveLength(1);
    // This one did reach the model: it is the baseline for the next test.
    stage.llm.reset();
    // Without a monthly budget, a completion's usage is added up with others' and written a moment after its answer.
    before = await until(async () => {
      const now = await snapshot();
      return now.usage.messages === start.usage.messages + 1 ? now : null;
    }, 'the completion\'s usage to be counted');
  });
});

describe('rate limits', () => {
  let limited: Stage;
  beforeAll(async () => {
    limited = await openAiStage({ RATE_LIMIT_API_KEY: '1/1m' });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('a key over its limit → 429 rate_limit_exceeded with Retry-After and the RateLimit fields, left for the SDK to retry', async () => {
    before = await snapshot();
    // The key's one request of the minute, then a completion: refused before the model is asked.
    const first = await get(limited, limited.key.key, '/v1/models');
    expect(first.status, first.text).toBe(200);
    const second = await post(limited, limited.key.key, { model: limited.bot.slug, messages: user(), stream: true });
    const error = expectOpenAiError(second, 429, 'rate_limit_exceeded', 'requests');
    expect(error.message).toBeTruthy();
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(second.headers.get('ratelimit-policy')).toMatch(/q=1;w=60/);
    expect(second.headers.get('ratelimit')).toMatch(/r=0/);
    expect(second.headers.get('x-should-retry')).toBeNull();
    expect(limited.llm.requests).toHaveLength(0);
  });
});
