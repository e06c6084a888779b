// A file attached to the new user message (useChat's `files`, a picture or a PDF) is refused with
// 422 naming the part, as /v1/chat/completions refuses an `image_url` part: the chatbot reads text
// only, and a silently dropped attachment got an answer as if the user had sent none. Nothing is
// stored and the model is not called. Parts the app adds for itself (`data-*`) stay ignored.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { fakeLlmStage } from '../helpers/fake-llm-stage.js';

const stage = fakeLlmStage();
let base: string;
let owner: RegisteredUser;
let key: string;

beforeAll(async () => {
  base = await listen(stage.t);
  owner = await registerUser(stage.t);
  const bot = await createChatbot(stage.t, owner, { name: 'Attachments' });
  key = (await createApiKey(stage.t, owner, bot.id)).key;
});

const chatId = () => `chat_${randomBytes(6).toString('hex')}`;
const picture = { type: 'file', mediaType: 'image/png', filename: 'receipt.png', url: 'data:image/png;base64,iVBORw0KGgo=' };

async function send(token: string, body: Record<string, unknown>) {
  const response = await fetch(`${base}/v1/ai-sdk/chat`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(token) }, body: JSON.stringify(body) });
  return { status: response.status, type: response.headers.get('content-type'), body: (await response.text()) };
}

describe('a file in the new user message', () => {
  it('is refused with 422 naming the part; nothing stored, the model not called', async () => {
    for (const [token, extra] of [[owner.accessToken, {}], [key, { user: 'alice' }]] as const) {
      const before = { conversations: await stage.t.count('conversations'), messages: await stage.t.count('messages') };
      const parts = [{ type: 'text', text: 'What does this receipt say?' }, picture];
      const answer = await send(token, { id: chatId(), messages: [{ id: 'u1', role: 'user', parts }], trigger: 'submit-message', ...extra });
      expect(answer.status, answer.body).toBe(422);
      expect(answer.type).toMatch(/^application\/problem\+json/);
      const problem = JSON.parse(answer.body);
      expect(problem.code).toBe('validation_failed');
      expect(problem.errors).toEqual([{ path: 'body.messages.0.parts.1', message: 'files are not read: this chatbot reads text only' }]);
      expect({ conversations: await stage.t.count('conversations'), messages: await stage.t.count('messages') }).toEqual(before);
      expect(stage.fake.requests).toHaveLength(0);
    }
  });

  it('in an earlier message of the advisory history, and data parts, do not stop a turn', async () => {
    const history = [
      { id: 'u1', role: 'user', parts: [{ type: 'text', text: 'Earlier' }, picture] },
      { id: 'a1', role: 'assistant', parts: [{ type: 'text', text: 'I read text only.' }] },
    ];
    const parts = [{ type: 'data-page', data: { path: '/orders' } }, { type: 'text', text: 'Where is my order?' }];
    const answer = await send(owner.accessToken, { id: chatId(), messages: [...history, { id: 'u2', role: 'user', parts }], trigger: 'submit-message' });
    expect(answer.status, answer.body).toBe(200);
    expect(answer.body).toContain('"type":"finish"');
    expect(stage.fake.requests).toHaveLength(1);
  });
});
