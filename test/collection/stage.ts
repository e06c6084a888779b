// One stage per test file for a collecting chatbot's answers: Parley with the builtin responder
// and Parley with a fake model, each owner with a chatbot collecting `collect`, and what a user
// and an owner do with it (say something, read the data collected).
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

export interface CollectionStage {
  fake: FakeLlm;
  /** The builtin responder, which asks for each field in turn and reads the answers itself. */
  builtin: TestApp;
  /** A model (the fake) that is asked for what each message states. */
  model: TestApp;
}

/** Registers the file's hooks; the stage's parts are there from its first test on. */
export function collectionStage(): CollectionStage {
  const stage = {} as CollectionStage;
  beforeAll(async () => {
    stage.fake = await startFakeLlm();
    stage.builtin = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '10000/1m' });
    stage.model = await createTestApp(fakeLlmEnv(stage.fake.url));
  });
  beforeEach(() => stage.fake.reset());
  afterAll(async () => {
    await stage.builtin?.close();
    await stage.model?.close();
    await stage.fake?.close();
  });
  return stage;
}

export interface CollectingConversation {
  t: TestApp;
  owner: RegisteredUser;
  id: string;
}

/** A new owner's conversation with a chatbot collecting `collect`. */
export async function collectingConversation(t: TestApp, collect: unknown, name = 'Lead bot'): Promise<CollectingConversation> {
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, { name, collect });
  const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
  return { t, owner, id: conversation.id };
}

/** Sends `content` as the user; the reply's text. */
export async function say({ t, owner, id }: CollectingConversation, content: string): Promise<string> {
  const response = await sendMessage(t, owner, id, { content });
  expect(response.statusCode, response.body).toBe(201);
  return json(response).reply.content as string;
}

export interface Collected {
  data: Record<string, unknown>;
  missing: string[];
  completed: boolean;
}

/** What the conversation has collected, as its owner reads it. */
export async function collected({ t, owner, id }: CollectingConversation): Promise<Collected> {
  return json(await t.request({ method: 'GET', url: `/v1/conversations/${id}/data`, headers: bearer(owner.accessToken) })) as unknown as Collected;
}

export const dataOf = async (conversation: CollectingConversation) => (await collected(conversation)).data;

/** A chatbot asking for the number of employees, then a name. */
export const EMPLOYEES_COLLECT = {
  fields: [
    { key: 'company_size', label: 'Number of employees', type: 'number', required: true },
    { key: 'name', label: 'Name', type: 'string', required: true },
  ],
};

/** The builtin responder's reply to `answer`, asked for the number of employees after `greeting`, and what it stored. */
export async function employeesAnswered(stage: CollectionStage, greeting: string, answer: string) {
  const conversation = await collectingConversation(stage.builtin, EMPLOYEES_COLLECT);
  expect(await say(conversation, greeting)).toContain('number of employees');
  const reply = await say(conversation, answer);
  return { reply, data: await dataOf(conversation) };
}

/** A name and an email address, both required. */
export const NAME_AND_EMAIL = {
  fields: [
    { key: 'name', label: 'name', type: 'string', required: true },
    { key: 'email', label: 'email', type: 'email', required: true },
  ],
};

/** What a fake model extracts for NAME_AND_EMAIL: the name ("my name is …") and the address the user's last message states. */
export function nameAndEmailSaid(request: { messages: Array<{ role: string; content: string }> }) {
  const prompt = request.messages.filter((message) => message.role === 'user').at(-1)?.content ?? '';
  const fence = /<user_message note="[^"]*">\n([\s\S]*?)\n<\/user_message>/.exec(prompt);
  const said = fence ? (JSON.parse(fence[1]!) as string) : '';
  const name = /my name is (\w+)/i.exec(said)?.[1] ?? null;
  const email = /[\w.]+@[\w.]+\.\w+/.exec(said)?.[0] ?? null;
  return { name, email };
}
