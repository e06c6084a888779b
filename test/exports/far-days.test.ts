// A bulk export filtered up to the last day a date can be written with: the end of the range,
// the midnight after it, is past year 9999, and sending it to the database answered 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('a bulk export filtered to the far end of the calendar', () => {
  it.each(['json', 'ndjson', 'csv'])('to=9999-12-31 (%s) exports every conversation', async (format) => {
    const owner = await registerUser(t);
    const chatbot = await createChatbot(t, owner);
    const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
    const response = await t.request({ method: 'GET', url: `/v1/exports/conversations?chatbot_id=${chatbot.id}&format=${format}&from=2000-01-01&to=9999-12-31`, headers: bearer(owner.accessToken) });
    expect(response.statusCode, response.body.slice(0, 400)).toBe(200);
    expect(response.body).toContain(conversation.id);
  });
});
