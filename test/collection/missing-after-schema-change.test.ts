// A chatbot's `collect` may change while its conversations collect. A value stored under the old
// schema that the new one does not accept (an enum option taken away, a field made a number) is
// asked for again, and the conversation completes only once it is given anew; but `missing`
// (GET …/data, the `collect.update` event) named only the fields with nothing stored. The owner
// read `{"missing": [], "completed": false}` while the bot asked the user for the plan again: an
// integration waiting for nothing to be missing took the conversation for complete, one waiting
// for `completed` had no way to tell what it still waited for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ LLM_PROVIDER: 'builtin' });
});
afterAll(async () => {
  await t?.close();
});

const collectWith = (options: string[]) => ({
  fields: [
    { key: 'name', label: 'name', type: 'string', required: true },
    { key: 'plan', label: 'plan', type: 'enum', required: true, options },
    { key: 'email', label: 'email', type: 'email', required: true },
  ],
});

describe('a value the changed collect schema no longer accepts', () => {
  it('is named missing until it is given again, and the conversation completes then', async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Plans', collect: collectWith(['Free', 'Pro', 'Team']) });
    const conversation = await createConversation(t, owner, { chatbot_id: bot.id });
    const say = async (content: string) => {
      const response = await sendMessage(t, owner, conversation.id, { content });
      expect(response.statusCode, response.body).toBe(201);
      return json(response).reply.content as string;
    };
    const data = async () => json(await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/data`, headers: bearer(owner.accessToken) }));

    await say('hi');
    await say('Dana');
    await say('Team');
    const changed = await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { collect: collectWith(['Free', 'Pro', 'Business']) } });
    expect(changed.statusCode, changed.body).toBe(200);

    expect(await say('dana@example.org')).toContain('Which plan?');
    expect(await data()).toEqual({ data: { name: 'Dana', plan: 'Team', email: 'dana@example.org' }, missing: ['plan'], completed: false });

    await say('Business');
    expect(await data()).toEqual({ data: { name: 'Dana', plan: 'Business', email: 'dana@example.org' }, missing: [], completed: true });
  });
});
