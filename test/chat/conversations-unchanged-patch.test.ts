// The conversation list is ordered by latest activity (§6), and `updated_at` says it is "when the
// latest reply was stored, or the conversation last changed". A PATCH that changed nothing still
// wrote a new `updated_at`: pressing Save in a rename dialog without editing the title (or a
// client re-sending `{"status": "active"}` on sync) moved an old conversation to the top of the
// user's list, above the ones they were actually talking in, and made it `latest`. A PATCH that
// leaves every field as it was now answers the conversation as it is and writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const patch = async (user: RegisteredUser, id: string, payload: object) => {
  const response = await t.request({ method: 'PATCH', url: `/v1/conversations/${id}`, headers: bearer(user.accessToken), payload });
  expect(response.statusCode, response.body).toBe(200);
  return json(response);
};

const listIds = async (user: RegisteredUser) =>
  (json(await t.request({ method: 'GET', url: '/v1/conversations', headers: bearer(user.accessToken) })).data as Array<{ id: string }>).map((c) => c.id);

describe('PATCH /v1/conversations/{id} that changes nothing', () => {
  it('keeps updated_at and the list order', async () => {
    const user = await registerUser(t);
    const old = await createConversation(t, user, { title: 'Trip to Lisbon', context: 'Two adults' });
    await sleep(5);
    const current = await createConversation(t, user);
    await sleep(5);
    expect((await sendMessage(t, user, current.id, { content: 'What should I pack?' })).statusCode).toBe(201);
    expect(await listIds(user)).toEqual([current.id, old.id]);

    for (const unchanged of [{ title: 'Trip to Lisbon' }, { title: '  Trip   to Lisbon ' }, { status: 'active' }, { context: 'Two adults' }, { title: 'Trip to Lisbon', status: 'active' }]) {
      const answered = await patch(user, old.id, unchanged);
      expect(answered, JSON.stringify(unchanged)).toMatchObject({ id: old.id, title: 'Trip to Lisbon', status: 'active', context: 'Two adults', updated_at: old.updated_at });
    }
    expect(await listIds(user)).toEqual([current.id, old.id]);
    const latest = json(await t.request({ method: 'GET', url: '/v1/conversations/latest', headers: bearer(user.accessToken) }));
    expect(latest.id).toBe(current.id);
  });

  it('still records a real change as activity', async () => {
    const user = await registerUser(t);
    const old = await createConversation(t, user, { title: 'Before' });
    await sleep(5);
    const renamed = await patch(user, old.id, { title: 'After' });
    expect(renamed.title).toBe('After');
    expect(Date.parse(renamed.updated_at)).toBeGreaterThan(Date.parse(old.updated_at));
  });
});
