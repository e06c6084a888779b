// One stage per AI SDK test file: Parley over real HTTP with a fake model, and an owner.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { fakeLlmEnv, listen } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';

export interface AiSdkStage {
  llm: FakeLlm;
  t: TestApp;
  /** The server's address, for the AI SDK clients. */
  base: string;
  owner: RegisteredUser;
}

/** Registers the file's hooks (the fake model is reset after each test); the stage's parts are there from its first test on. */
export function aiSdkStage(env: Record<string, string> = {}): AiSdkStage {
  const stage = {} as AiSdkStage;
  beforeAll(async () => {
    stage.llm = await startFakeLlm();
    stage.t = await createTestApp(fakeLlmEnv(stage.llm.url, env));
    stage.base = await listen(stage.t);
    stage.owner = await registerUser(stage.t);
  });
  afterEach(() => stage.llm.reset());
  afterAll(async () => {
    await stage.t?.close();
    await stage.llm?.close();
  });
  return stage;
}
