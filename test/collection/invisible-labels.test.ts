// A collect field's label is how the bot names the field to the user, and an enum option is what
// the user answers with: one of only zero-width characters (U+200B, the Hangul filler) passes the
// schema's "one non-space character" and shows nothing. Such a label or option is refused when
// the chatbot is saved, as a chatbot's name of the same text is, and nothing changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let owner: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
});

const INVISIBLE = ['\u200b', '\u3164', '\u200b\u2060\ufeff'];

const schemas = (text: string): Array<[string, unknown[]]> => [
  ['collect.fields.0.label', [{ key: 'city', label: text, type: 'string' }]],
  ['collect.fields.0.item_fields.0.label', [{ key: 'jobs', label: 'Jobs', type: 'list', item_fields: [{ key: 'what', label: text, type: 'string' }] }]],
  ['collect.fields.0.options', [{ key: 'plan', label: 'Plan', type: 'enum', options: ['Basic', text] }]],
  ['collect.fields.0.options', [{ key: 'plan', label: 'Plan', type: 'enum', options: [{ value: 'basic', label: text }] }]],
];

function expectRefused(response: { statusCode: number; body: string }, path: string) {
  expect(response.statusCode, response.body).toBe(422);
  const body = JSON.parse(response.body);
  expect(body.code).toBe('validation_failed');
  expect(body.errors.map((error: { path: string }) => error.path)).toContain(`body.${path}`);
}

describe('a collect label or option that shows nothing', () => {
  it('is refused when a chatbot is created or changed, and nothing is stored', async () => {
    const bot = await createChatbot(t, owner, { name: 'Visible labels' });
    const before = await t.count('chatbots');
    for (const text of INVISIBLE) {
      for (const [path, fields] of schemas(text)) {
        const payload = { name: 'Survey', collect: { fields } };
        expectRefused(await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(owner.accessToken), payload }), path);
        expectRefused(await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { collect: { fields } } }), path);
      }
    }
    expect(await t.count('chatbots')).toBe(before);
    expect(json(await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) })).collect).toBeNull();
  });

  it('is kept when it holds something to show beside invisible characters', async () => {
    const fields = [
      { key: 'city', label: '\u200bCity', type: 'string' },
      { key: 'plan', label: 'Plan', type: 'enum', options: ['Basic\u200b', { value: 'pro', label: 'Pro' }] },
    ];
    const created = await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(owner.accessToken), payload: { name: 'Survey kept', collect: { fields } } });
    expect(created.statusCode, created.body).toBe(201);
  });
});
