// A collect field keyed `constructor` (the key pattern ^[a-z][a-z0-9_]{0,63}$ lets it through) read
// as already given: the conversation's data never named it missing, and a refusal for it read as
// the member's source. Such a key is refused when the chatbot is saved, in a list's item fields too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('a collect field keyed like a member of every object', () => {
  it('is refused with a 422 naming the key, and nothing is created', async () => {
    const owner = await registerUser(t);
    const before = await t.count('chatbots');
    const create = (fields: unknown[]) =>
      t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(owner.accessToken), payload: { name: 'Builders', collect: { fields } } });
    const flat = await create([
      { key: 'city', label: 'City', type: 'string', required: true },
      { key: 'constructor', label: 'Building contractor', type: 'string', required: true },
    ]);
    expect(flat.statusCode, flat.body).toBe(422);
    expect(flat.body).toContain("reserved name");
    expect(flat.body).toContain("collect.fields.1.key");
    const nested = await create([{ key: 'jobs', label: 'Jobs', type: 'list', item_fields: [{ key: 'constructor', label: 'Contractor', type: 'string' }] }]);
    expect(nested.statusCode, nested.body).toBe(422);
    expect(await t.count('chatbots')).toBe(before);
  });
});
