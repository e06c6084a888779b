import { expect } from 'vitest';
import { json, type TestApp } from './app.js';
import { createConversation, sendMessage } from './chat.js';
import { bearer, type RegisteredUser } from './factories.js';

/** Adds a document to the chatbot's knowledge (201 expected); the document as answered. */
export async function addKnowledge(t: TestApp, user: RegisteredUser, chatbotId: string, title: string, content: string) {
  const response = await t.request({ method: 'POST', url: `/v1/chatbots/${chatbotId}/knowledge`, headers: bearer(user.accessToken), payload: { title, content } });
  expect(response.statusCode, response.body).toBe(201);
  return json(response);
}

/** Asks in a fresh conversation of the chatbot (201 expected); the reply's text. */
export async function askOnce(t: TestApp, user: RegisteredUser, chatbotId: string, question: string): Promise<string> {
  const conversation = await createConversation(t, user, { chatbot_id: chatbotId });
  const response = await sendMessage(t, user, conversation.id, { content: question });
  expect(response.statusCode, response.body).toBe(201);
  return json(response).reply.content as string;
}
