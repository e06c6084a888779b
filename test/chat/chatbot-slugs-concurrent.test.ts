// Many chatbots created with one name at once (a team's clients setting up "Customer Support"
// together, or a retrying client). Each creation read the slugs taken so far and inserted the
// first free one, so the ones running together all chose the same slug; after five clashes a
// creation gave up with a 500 and created nothing (17 of 24 did). Creations from one name now
// take turns choosing, and all get the slugs §5 names: customer-support, customer-support-2…
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('POST /v1/chatbots with one name from several users at once', () => {
  it('creates every chatbot, each with the next slug made from the name', async () => {
    const users = await Promise.all(Array.from({ length: 4 }, () => registerUser(t)));
    const before = await t.count('chatbots');
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(users[i % users.length]!.accessToken), payload: { name: 'Customer Support' } }),
      ),
    );
    for (const answer of answers) expect(answer.statusCode, answer.body).toBe(201);
    expect(await t.count('chatbots')).toBe(before + 24);
    const slugs = answers.map((a) => a.json().slug as string);
    const expected = ['customer-support', ...Array.from({ length: 23 }, (_, i) => `customer-support-${i + 2}`)];
    expect([...slugs].sort()).toEqual([...expected].sort());
  });

  it('still answers 409 slug_taken to a slug given exactly that one of them took', async () => {
    const [first, second] = await Promise.all([registerUser(t), registerUser(t)]);
    const answers = await Promise.all(
      [first, second].map((user) => t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(user!.accessToken), payload: { name: 'Help Desk', slug: 'help-desk-x1' } })),
    );
    expect(answers.map((a) => a.statusCode).sort()).toEqual([201, 409]);
    expect(answers.find((a) => a.statusCode === 409)!.json().code).toBe('slug_taken');
  });
});
