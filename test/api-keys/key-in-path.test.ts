// An owner whose key leaked has the key, not its id. Revoking it with the key in the path
// (`DELETE /v1/chatbots/{id}/keys/parley_sk_…`, the natural mistake) answered 404 and wrote
// the whole secret into the server's request log, where every log reader and log pipeline got
// it; so did a client that named the key as a model (`GET /v1/models/parley_sk_…`), whose 404
// also echoed the secret in `error.message`. Paths are logged with a key's secret masked, the
// refusal says to revoke a key by its id, and the key keeps working until revoked by its id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let owner: RegisteredUser;
let bot: { id: string };
beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
  bot = await createChatbot(t, owner, { name: 'Leaky' });
});
afterAll(async () => {
  await t?.close();
});

const secretOf = (key: string) => key.slice('parley_sk_'.length);

describe('a key\'s secret in a request path', () => {
  it('is not written to the log when the owner tries to revoke the key by the key itself', async () => {
    const key = await createApiKey(t, owner, bot.id);
    const logged = t.logs.length;
    const response = await t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}/keys/${key.key}`, headers: bearer(owner.accessToken) });
    expect(response.statusCode, response.body).toBe(404);
    expect(response.json().detail).toMatch(/by its id.*not the key itself/i);
    expect(response.body).not.toContain(secretOf(key.key));
    const lines = t.logs.slice(logged).join('\n');
    expect(lines).toContain(`/v1/chatbots/${bot.id}/keys/`);
    expect(lines).not.toContain(secretOf(key.key));
    // Nothing was revoked: the key still answers, and its id still revokes it.
    expect((await t.request({ method: 'GET', url: '/v1/models', headers: bearer(key.key) })).statusCode).toBe(200);
    expect((await t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}/keys/${key.id}`, headers: bearer(owner.accessToken) })).statusCode).toBe(204);
  });

  it('is neither logged nor echoed when a client names the key as a model', async () => {
    const key = await createApiKey(t, owner, bot.id);
    const logged = t.logs.length;
    for (const url of [`/v1/models/${key.key}`, `/v1/models/x/${key.key}`]) {
      const response = await t.request({ method: 'GET', url, headers: bearer(key.key) });
      expect(response.statusCode, response.body).toBe(404);
      expect(response.json().error.code).toBe('model_not_found');
      expect(response.body).not.toContain(secretOf(key.key));
    }
    const completion = await t.request({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: bearer(key.key),
      payload: { model: key.key, messages: [{ role: 'user', content: 'Hi' }] },
    });
    expect(completion.statusCode, completion.body).toBe(404);
    expect(completion.body).not.toContain(secretOf(key.key));
    expect(t.logs.slice(logged).join('\n')).not.toContain(secretOf(key.key));
  });
});
