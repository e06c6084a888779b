// A model's JSON may hold half of a character: `"\ud840"` escapes a lone surrogate, which
// JSON.parse accepts and PostgreSQL's jsonb refuses. Such a value passed as stated whenever the
// user's message held the whole character (U+20000 is "\ud840\udc00", so "Acme\ud840" is found
// inside "Acme𠀀"), and the turn's statement that stores the data failed: 500, reply lost.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

let fake: FakeLlm;
let t: TestApp;

const COLLECT = {
  fields: [
    { key: 'company_name', label: 'company name', type: 'string', required: true },
    { key: 'products', label: 'products', type: 'list', item_fields: [{ key: 'name', label: 'name', type: 'string', required: true }] },
    { key: 'contact_email', label: 'contact email', type: 'email', required: true },
  ],
};

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

async function turnWithExtraction(extractionJson: string, content: string) {
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, { name: 'Lead bot', collect: COLLECT });
  const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
  // Sent as text: JSON.stringify would write a lone surrogate the same way, but the escape is the point.
  fake.setExtraction(() => extractionJson);
  const response = await sendMessage(t, owner, conversation.id, { content });
  const data = json(await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/data`, headers: bearer(owner.accessToken) }));
  return { response, data };
}

describe('a value a model extracted with half of a character', () => {
  it('is not stored, and the turn is answered', async () => {
    const { response, data } = await turnWithExtraction('{"company_name": "Acme\\ud840", "products": null, "contact_email": null}', 'We are Acme𠀀');
    expect(response.statusCode).toBe(201);
    expect(json(response).reply.content).toBeTruthy();
    expect(data.data).toEqual({});
    expect(data.missing).toEqual(['company_name', 'contact_email']);
  });

  it('in a list item is not stored, and the rest of the turn is', async () => {
    const { response, data } = await turnWithExtraction(
      '{"company_name": "Acme", "products": [{"name": "Widget\\ud840"}, {"name": "Gadget"}], "contact_email": null}',
      'We are Acme and sell Widget𠀀 and Gadget',
    );
    expect(response.statusCode).toBe(201);
    expect(data.data).toEqual({ company_name: 'Acme', products: [{ name: 'Gadget' }] });
  });

  it('whole, is stored as the user wrote it', async () => {
    const { response, data } = await turnWithExtraction('{"company_name": "Acme\\ud840\\udc00", "products": null, "contact_email": null}', 'We are Acme𠀀');
    expect(response.statusCode).toBe(201);
    expect(data.data).toEqual({ company_name: 'Acme𠀀' });
  });
});
