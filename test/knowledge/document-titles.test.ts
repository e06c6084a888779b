// A knowledge document's title is one line of display text: a row of the document list, a line of
// a terminal, the name a document is known by. Titles took control characters: a line break split
// a row in two, terminal escapes (`ESC[2J`, a carriage return) rewrote the line they were printed
// on, C1 controls and line separators did the same in other renderers, and a right-to-left override
// showed "txt.exe" as "exe.txt". A title with control characters, a line or paragraph separator or a
// direction override is now refused with 422 problem+json and nothing is stored (documents have no
// update route: upload is the only way in); titles of every script, emoji joined by zero-width
// joiners, direction marks and closed embeddings still pass, as chatbot names do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let owner: RegisteredUser;
let chatbotId: string;
beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
  chatbotId = (await createChatbot(t, owner, { name: 'Titles' })).id as string;
});
afterAll(async () => {
  await t?.close();
});

const upload = (title: string) =>
  t.request({ method: 'POST', url: `/v1/chatbots/${chatbotId}/knowledge`, headers: bearer(owner.accessToken), payload: { title, content: 'Opening hours: 9 to 5.' } });
const titles = async () =>
  (json(await t.request({ method: 'GET', url: `/v1/chatbots/${chatbotId}/knowledge?limit=100`, headers: bearer(owner.accessToken) })).data as Array<{ title: string }>).map(
    (doc) => doc.title,
  );

describe('knowledge document titles are one line of text', () => {
  it.each([
    ['a line break', 'Opening hours\nPrices: free'],
    ['terminal escapes', 'Price list\u001b[2J\u001b[HAll items free'],
    ['a carriage return', 'Price list\rFree items'],
    ['a tab', 'Price\tlist'],
    ['a bell', 'Price list\u0007'],
    ['DEL', 'Price list\u007f'],
    ['a C1 control (CSI)', 'Price list\u009b31m'],
    ['a next-line control (NEL)', 'Price list\u0085Free'],
    ['a line separator', 'Price list\u2028Free'],
    ['a paragraph separator', 'Price list\u2029Free'],
    ['a right-to-left override', 'invoice\u202etxt.exe'],
    ['a left-to-right override', '\u202dمرحبا\u202c'],
  ])('refuses a title with %s, storing nothing', async (_what, title) => {
    const before = await t.count('knowledge_documents');
    const response = await upload(title);
    expect(response.statusCode, response.body).toBe(422);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(response)).toMatchObject({ status: 422, code: 'validation_failed' });
    expect(json(response).errors[0].path).toBe('body.title');
    expect(json(response).errors[0].message).toMatch(/one line/);
    expect(await t.count('knowledge_documents')).toBe(before);
    expect(await titles()).not.toContain(title.trim());
  });

  it.each([['营业时间'], ['শিপিং নীতি'], ['👩\u200d💻 Dev handbook'], ['\u202bמדיניות החזרות\u202c'], ['שעות פתיחה\u200f (2025)'], ['Café — “Menu”']])(
    'still takes the title %j',
    async (title) => {
      const response = await upload(title);
      expect(response.statusCode, response.body).toBe(201);
      expect(json(response).title).toBe(title);
      expect(await titles()).toContain(title);
    },
  );

  it("still takes a title with a line break around it, as a form's text box may leave, and stores it trimmed", async () => {
    const response = await upload('\tReturns policy\r\n');
    expect(response.statusCode, response.body).toBe(201);
    expect(json(response).title).toBe('Returns policy');
  });
});
