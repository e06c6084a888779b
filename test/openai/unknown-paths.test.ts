// A path an OpenAI client sends that names nothing here (§8): a doubled slash from a base URL
// written with a trailing one, a base URL without `/v1`, an OpenAI endpoint Parley does not
// serve. The `openai` SDK reads `error.message` only from OpenAI's shape, and of a problem+json
// body says "404 status code (no body)"; answered in OpenAI's shape, its NotFoundError names the
// path that was sent. Parley's own API keeps problem+json for the paths that name nothing there.
import { NotFoundError, type APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { expectOpenAiError, get, post, sdk, useOpenAiStage } from './stage.js';

const stage = useOpenAiStage();
const ask = [{ role: 'user' as const, content: 'Is breakfast included?' }];

async function refusal(pending: Promise<unknown>): Promise<APIError> {
  const error = await pending.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NotFoundError);
  return error as APIError;
}

describe('a path an OpenAI client sends that names nothing', () => {
  it('is NotFoundError naming the path, for a base URL with a doubled slash or without /v1', async () => {
    const doubled = await refusal(sdk(stage, stage.key.key, { baseURL: `${stage.base}/v1//` }).chat.completions.create({ model: stage.bot.slug, messages: ask }));
    expect(doubled.message).toBe('404 No route POST /v1//chat/completions');
    expect(doubled.code).toBe('not_found');
    expect(doubled.type).toBe('invalid_request_error');

    const bare = await refusal(sdk(stage, stage.key.key, { baseURL: stage.base }).chat.completions.create({ model: stage.bot.slug, messages: ask }));
    expect(bare.message).toBe('404 No route POST /chat/completions');
    const listed = await refusal(sdk(stage, stage.key.key, { baseURL: stage.base }).models.list());
    expect(listed.message).toBe('404 No route GET /models');
    expect(stage.llm.requests).toHaveLength(0);
  });

  it('is NotFoundError naming the path for an OpenAI endpoint Parley does not serve', async () => {
    const client = sdk(stage, stage.key.key);
    expect((await refusal(client.embeddings.create({ model: stage.bot.slug, input: 'breakfast' }))).message).toBe('404 No route POST /v1/embeddings');
    expect((await refusal(client.responses.create({ model: stage.bot.slug, input: 'Is breakfast included?' }))).message).toBe('404 No route POST /v1/responses');
    expect((await refusal(client.completions.create({ model: stage.bot.slug, prompt: 'Is breakfast included?' }))).message).toBe('404 No route POST /v1/completions');
  });

  it("is OpenAI's shape on the wire, with or without a credential, whatever the body", async () => {
    for (const token of [stage.key.key, null]) {
      const error = expectOpenAiError(await post(stage, token, { model: stage.bot.slug, messages: ask }, '/v1//chat/completions'), 404, 'not_found', 'invalid_request_error');
      expect(error).toEqual({ message: 'No route POST /v1//chat/completions', type: 'invalid_request_error', param: null, code: 'not_found' });
    }
    expectOpenAiError(await post(stage, stage.key.key, '{"model": broken', '/v1/chat/completion'), 404, 'not_found');
    expectOpenAiError(await post(stage, stage.key.key, {}, '/v1/models'), 404, 'not_found');
    expectOpenAiError(await get(stage, stage.key.key, '/v1/v1/models'), 404, 'not_found');
  });

  it("leaves Parley's own API's unknown paths in problem+json", async () => {
    for (const path of ['/v1/conversation', '/v1//conversations', '/v1/chat', '/nothing/here']) {
      const answer = await get(stage, stage.key.key, path);
      expect(answer.status, path).toBe(404);
      expect(answer.headers.get('content-type'), path).toMatch(/^application\/problem\+json/);
      expect(answer.json, path).toMatchObject({ status: 404, code: 'not_found', detail: `No route GET ${path}` });
    }
  });
});
