// Parley talking to the fake model, for one test file: the hooks that start both, clear what the
// fake recorded after each test, and close both at the end.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from './app.js';
import { fakeLlmEnv } from './chat.js';

export interface FakeLlmStage {
  fake: FakeLlm;
  t: TestApp;
}

/** Registers the file's hooks; the stage's parts are there from its first test on. */
export function fakeLlmStage(env: Record<string, string> = {}): FakeLlmStage {
  const stage = {} as FakeLlmStage;
  beforeAll(async () => {
    stage.fake = await startFakeLlm();
    stage.t = await createTestApp(fakeLlmEnv(stage.fake.url, env));
  });
  afterEach(() => stage.fake.reset());
  afterAll(async () => {
    await stage.t?.close();
    await stage.fake?.close();
  });
  return stage;
}
