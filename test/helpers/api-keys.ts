import type { TestApp } from './app.js';
import { bearer, type RegisteredUser } from './factories.js';

export interface CreatedKey {
  id: string;
  key: string;
  prefix: string;
}

/** Creates an API key for one of the owner's chatbots, as the owner would. */
export async function createApiKey(t: TestApp, owner: RegisteredUser | string, chatbotId: string, name?: string): Promise<CreatedKey> {
  const token = typeof owner === 'string' ? owner : owner.accessToken;
  const response = await t.request({ method: 'POST', url: `/v1/chatbots/${chatbotId}/keys`, headers: bearer(token), payload: name === undefined ? {} : { name } });
  if (response.statusCode !== 201) throw new Error(`creating a key failed: ${response.statusCode} ${response.body}`);
  const body = response.json();
  return { id: body.id, key: body.key, prefix: body.prefix };
}
