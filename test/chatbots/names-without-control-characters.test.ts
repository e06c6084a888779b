// A chatbot's name is one line of display text: the widget's title, the hosted page's heading, and
// what `parley slugs show <slug>` prints to the operator settling a slug in dispute. Names took
// control characters: a squatter's chatbot named with terminal escapes (`ESC[2K`, a carriage
// return) rewrote the operator's line to read as if the slug were free, and a name with a line
// break split the widget's one-line title. Names with control characters (C0, DEL, C1; line breaks
// and tabs among them), line and paragraph separators and direction overrides (which reorder the
// letters shown) are now refused with 422 at creation and rename, and nothing is stored;
// names of every script, emoji joined by zero-width joiners and bidirectional marks still pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSlugsCommand } from '../../src/cli-slugs.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const post = (user: RegisteredUser, payload: Record<string, unknown>) => t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(user.accessToken), payload });
const patch = (user: RegisteredUser, id: string, payload: Record<string, unknown>) =>
  t.request({ method: 'PATCH', url: `/v1/chatbots/${id}`, headers: bearer(user.accessToken), payload });

const CONTROL = /\p{Cc}/u;

describe('chatbot names are one line of text', () => {
  it('refuses a name with terminal escapes, so the slug command prints only what the owner could type', async () => {
    const owner = await registerUser(t);
    const before = await t.count('chatbots');
    const slug = `squatted-${Date.now().toString(36)}`;
    const created = await post(owner, { name: 'Acme\u001b[2K\r' + `${slug}: free`, slug, is_public: true });
    if (created.statusCode === 201) {
      // What the operator's terminal was handed.
      expect(await runSlugsCommand(['show', slug], t.database.sql)).not.toMatch(CONTROL);
    }
    expect(created.statusCode, created.body).toBe(422);
    expect(json(created).errors[0].path).toBe('body.name');
    expect(await t.count('chatbots')).toBe(before);
  });

  it.each([
    ['a line break', 'Acme\nSupport'],
    ['a tab', 'Acme\tSupport'],
    ['a carriage return', 'Acme\rSupport'],
    ['DEL', 'Acme\u007f'],
    ['a C1 control (CSI)', 'Acme\u009b31m'],
    ['a bell', 'Acme\u0007'],
    ['a line separator', 'Acme\u2028Support'],
    ['a paragraph separator', 'Acme\u2029Support'],
    ['a right-to-left override', 'Acme \u202Etroppus'],
    ['a left-to-right override', '\u202DAcme'],
  ])('refuses a rename to a name with %s and keeps the old name', async (_what, name) => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Acme Support' });
    const response = await patch(owner, bot.id, { name, greeting: 'Hi' });
    expect(response.statusCode, response.body).toBe(422);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(response).errors[0].path).toBe('body.name');
    const now = json(await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) }));
    expect(now).toMatchObject({ name: 'Acme Support', greeting: '' });
  });

  it.each([['客服機器人'], ['গ্রাহক সহায়তা'], ['👩\u200d💻 Dev desk'], ['\u202bמוקד שירות\u202c'], ['Café — “Support”']])('still takes the name %j', async (name) => {
    const owner = await registerUser(t);
    const response = await post(owner, { name });
    expect(response.statusCode, response.body).toBe(201);
    expect(json(response).name).toBe(name);
  });

  it('still takes a name with a line break around it, as a form\'s text box may leave, and stores it trimmed', async () => {
    const owner = await registerUser(t);
    const response = await post(owner, { name: '\tAcme Support\r\n' });
    expect(response.statusCode, response.body).toBe(201);
    expect(json(response).name).toBe('Acme Support');
  });
});
