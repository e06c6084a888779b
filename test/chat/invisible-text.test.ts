// A name, title or document that shows nothing is refused as blank, as a message or a
// conversation title of only zero-width characters is (lib/text.ts isBlank): 422 and nothing stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

// Zero-width space, word joiner and byte-order mark; the Hangul filler; a soft hyphen beside a no-break space.
const INVISIBLE = ['\u200b\u2060\ufeff', '\u3164', '\u00ad\u00a0'];

function expectBlankRefused(response: { statusCode: number; body: string }, field: string) {
  expect(response.statusCode, response.body).toBe(422);
  const body = JSON.parse(response.body);
  expect(body.code).toBe('validation_failed');
  expect(body.errors.map((error: { path: string }) => error.path)).toContain(`body.${field}`);
}

describe('invisible text', () => {
  it("is refused as a chatbot's name, created or changed", async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { name: 'Visible' });
    const before = await t.count('chatbots');
    for (const name of INVISIBLE) {
      expectBlankRefused(await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(user.accessToken), payload: { name } }), 'name');
      expectBlankRefused(await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(user.accessToken), payload: { name } }), 'name');
    }
    expect(await t.count('chatbots')).toBe(before);
    expect(json(await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(user.accessToken) })).name).toBe('Visible');
  });

  it("is refused as a knowledge document's title or content", async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user);
    const before = await t.count('knowledge_documents');
    const upload = (payload: object) => t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/knowledge`, headers: bearer(user.accessToken), payload });
    for (const text of INVISIBLE) {
      expectBlankRefused(await upload({ title: text, content: 'Opening hours: 9 to 5.' }), 'title');
      expectBlankRefused(await upload({ title: 'Hours', content: `${text}\n${text}` }), 'content');
    }
    expect(await t.count('knowledge_documents')).toBe(before);
  });

  it('still takes names and titles that show something', async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { name: '\u200b客服\u200b' });
    expect(bot.name).toBe('\u200b客服\u200b');
    const upload = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/knowledge`, headers: bearer(user.accessToken), payload: { title: '❤️', content: '?' } });
    expect(upload.statusCode, upload.body).toBe(201);
  });
});
