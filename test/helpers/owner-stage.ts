// Parley (no model) and one owner, for one test file, with a chatbot of theirs when asked.
import { afterAll, beforeAll } from 'vitest';
import { createTestApp, type TestApp } from './app.js';
import { createChatbot } from './chat.js';
import { registerUser, type RegisteredUser } from './factories.js';

export interface OwnerStage {
  t: TestApp;
  owner: RegisteredUser;
  /** The owner's chatbot, when `chatbot` was given. */
  bot: { id: string; slug: string };
}

/** Registers the file's hooks; the stage's parts are there from its first test on. */
export function ownerStage(options: { env?: Record<string, string>; chatbot?: Record<string, unknown> } = {}): OwnerStage {
  const stage = {} as OwnerStage;
  beforeAll(async () => {
    stage.t = await createTestApp(options.env ?? {});
    stage.owner = await registerUser(stage.t);
    if (options.chatbot) stage.bot = await createChatbot(stage.t, stage.owner, options.chatbot);
  });
  afterAll(async () => {
    await stage.t?.close();
  });
  return stage;
}
