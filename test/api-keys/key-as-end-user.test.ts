// A key acts for an end user the request names in `user`. A key itself matches that field's
// alphabet, so a developer who passed the key there (the OpenAI SDK's `user`, a variable mixed
// up) had the secret stored as the end user's id: listed in the owner's inbox and conversations
// (`k:<chatbot>:parley_sk_…`), written to exports, shown to anyone the owner shares them with.
// Now a `user` that is an API key is refused — 400 on the OpenAI endpoint, 422 elsewhere, naming
// `user` — without echoing it, and nothing is stored or asked of the model.
import OpenAI, { BadRequestError } from 'openai';
import { describe, expect, it } from 'vitest';
import { bearer } from '../helpers/factories.js';
import { useOpenAiStage } from '../openai/stage.js';

const stage = useOpenAiStage();

const conversationsOfOwner = async () =>
  (await stage.t.request({ method: 'GET', url: '/v1/conversations?limit=100', headers: bearer(stage.owner.accessToken) })).json().data as unknown[];

describe('an API key sent as its own end user', () => {
  it('is refused on the OpenAI endpoint, naming user, without the key in the answer', async () => {
    const client = new OpenAI({ apiKey: stage.key.key, baseURL: `${stage.base}/v1`, maxRetries: 0 });
    const error = await client.chat.completions.create({ model: stage.bot.slug, messages: [{ role: 'user', content: 'Hi' }], user: stage.key.key }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).param).toBe('user');
    expect(JSON.stringify((error as BadRequestError).error)).not.toContain(stage.key.key.slice(10));
    expect(stage.llm.requests).toHaveLength(0);
  });

  it('is refused on the conversations API with 422 naming user; no conversation is kept', async () => {
    const before = await conversationsOfOwner();
    const started = await stage.t.request({ method: 'POST', url: '/v1/chat', headers: bearer(stage.key.key), payload: { message: 'Hi', user: stage.key.key } });
    expect(started.statusCode, started.body).toBe(422);
    expect(started.json().errors).toEqual([{ path: 'body.user', message: expect.stringContaining('API key') }]);
    expect(started.body).not.toContain(stage.key.key.slice(10));
    expect(await conversationsOfOwner()).toEqual(before);
    expect(stage.llm.requests).toHaveLength(0);
  });
});
