// The turn engine's promise (§6, §6.1, §11): every generation that starts is finished — its
// reply stored, its conversation unlocked, its slot freed — whatever goes wrong inside the turn:
// a model that throws something unexpected, a stream writer that breaks, an after-turn step that
// fails, or a model that ignores its abort signal when the turn is stopped.
//
// The engine runs on the real database with its real repository; the model is the edge here, so
// these tests give it models that misbehave in ways no network fake can (a thrown TypeError, a
// promise that never settles).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userPrincipal } from '../../src/features/auth/principal.js';
import { createGenerations } from '../../src/features/chat/generations.js';
import { createTurnEngine, type AfterTurn, type TurnEngine } from '../../src/features/chat/turn-engine.js';
import { createUsageBuffer } from '../../src/features/chat/usage-buffer.js';
import { createAnswersRepo } from '../../src/features/chat/answers.repo.js';
import { createReplyProgress } from '../../src/features/chat/progress.repo.js';
import { createTurnsRepo } from '../../src/features/chat/turns.repo.js';
import { createJobs } from '../../src/jobs/jobs.js';
import { newId } from '../../src/lib/ids.js';
import type { ChatModel } from '../../src/llm/types.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { chattingUser } from '../helpers/chat.js';

let t: TestApp;
const logged: string[] = [];
const log = {
  warn: (_fields: object, message: string) => void logged.push(message),
  error: (_fields: object, message: string) => void logged.push(message),
};

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

function engineWith(model: ChatModel, afterTurn: AfterTurn[] = [], leaseMs = 120_000) {
  const turns = createTurnsRepo(t.database.app.sql);
  const generations = createGenerations();
  const jobs = createJobs(log);
  const answers = createAnswersRepo(t.database.app.sql);
  const engine: TurnEngine = createTurnEngine({
    turns,
    answers,
    usage: createUsageBuffer({ write: (count) => answers.addUsage(count), jobs, everyMs: 100, retryForMs: 1_000 }),
    progress: createReplyProgress(t.database.app.sql),
    model,
    generations,
    jobs,
    clock: { now: () => new Date() },
    log,
    afterTurn,
    settings: { defaultModel: 'builtin', allowedModels: ['builtin'], contextTokenBudget: 8000, leaseMs },
  });
  return { turns, generations, engine };
}

/** Starts a turn the way the chat service does: lock, store the message, read what the model needs. */
async function begin(parts: ReturnType<typeof engineWith>, leaseMs = 120_000) {
  const { user, conversation } = await chattingUser(t);
  const replyId = newId();
  const started = await parts.turns.begin(
    user.id,
    conversation.id,
    {
      audience: null,
      lock: { replyId, leaseMs },
      message: { id: newId(), content: 'hello', tokens: 1, title: 'hello', context: null },
      historyTokens: 7000,
      historyMinRows: 0,
      knowledgeQuery: null,
      knowledgeLimit: 0,
    },
    new Date(),
  );
  if (started.state !== 'started') throw new Error(`could not begin: ${started.state}`);
  const principal = userPrincipal({ id: user.id, username: user.username, role: 'user' }, null);
  const plan = { replyId, message: 'hello', messageTokens: 1, turnContext: null, history: started.history, knowledge: [], replaces: null, userMessage: null };
  return { user, conversation, principal, target: started.target, plan, replyId };
}

async function storedReply(conversationId: string) {
  const rows = await t.database.sql.query<{ id: string; status: string; error_code: string | null; content: string }>(
    `SELECT id, status, error_code, content FROM messages WHERE conversation_id = $1 AND role = 'assistant'`,
    [conversationId],
  );
  return rows;
}

async function isBusy(conversationId: string) {
  const rows = await t.database.sql.query<{ busy: boolean }>(
    'SELECT busy_until IS NOT NULL AND busy_until > now() AS busy FROM conversations WHERE id = $1',
    [conversationId],
  );
  return rows[0]!.busy;
}

const throwing = (error: unknown): ChatModel => ({ generate: async () => Promise.reject(error) });
const answering = (text: string): ChatModel => ({
  async generate(_request, onDelta) {
    for (const word of text.split(' ')) onDelta?.(`${word} `);
    return { text: `${text.split(' ').join(' ')} `, usage: { promptTokens: 5, completionTokens: 3 } };
  },
});

describe('a reply longer than its hold on the conversation', () => {
  it('keeps the conversation while the model still answers: the hold is renewed, and the reply is stored whole', async () => {
    // The engine renews the hold every half lease (2 minutes in the server: a slow reasoning model
    // takes that long). Without it, the cut-turns sweep takes a lapsed hold for a dead instance's.
    const leaseMs = 600;
    const slow: ChatModel = {
      async generate(_request, onDelta) {
        for (const word of ['still', 'thinking', 'about', 'it']) {
          await new Promise((resolve) => setTimeout(resolve, 400));
          onDelta?.(`${word} `);
        }
        return { text: 'still thinking about it ', usage: { promptTokens: 5, completionTokens: 4 } };
      },
    };
    const parts = engineWith(slow, [], leaseMs);
    const turn = await begin(parts, leaseMs);
    const running = parts.engine.run(turn.principal, turn.target, turn.plan, { events: { start() {}, delta() {} } });
    let held = 0;
    for (let check = 0; check < 8; check++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      if (await isBusy(turn.conversation.id)) held++;
    }
    const result = await running;
    // Well over twice the lease went by: every look found the conversation held.
    expect(held).toBe(8);
    expect(result.reply).toMatchObject({ status: 'complete', content: 'still thinking about it ' });
    expect(await isBusy(turn.conversation.id)).toBe(false);
  });
});

describe('a turn always ends', () => {
  it('a model that throws something unexpected: the reply is stored failed, the conversation is free', async () => {
    const parts = engineWith(throwing(new TypeError("Cannot read properties of undefined (reading 'choices')")));
    const turn = await begin(parts);
    await expect(parts.engine.run(turn.principal, turn.target, turn.plan)).rejects.toThrow(TypeError);
    expect(await storedReply(turn.conversation.id)).toEqual([{ id: turn.replyId, status: 'failed', error_code: 'internal_error', content: '' }]);
    expect(await isBusy(turn.conversation.id)).toBe(false);
    expect(parts.generations.open()).toBe(0);
  });

  it('a stream writer that breaks mid-reply: what was produced is stored failed, the conversation is free', async () => {
    const parts = engineWith(answering('one two three four'));
    const turn = await begin(parts);
    let deltas = 0;
    const events = {
      start() {},
      delta() {
        if (++deltas === 2) throw new Error('write after end');
      },
    };
    await expect(parts.engine.run(turn.principal, turn.target, turn.plan, { events })).rejects.toThrow('write after end');
    const [reply] = await storedReply(turn.conversation.id);
    expect(reply).toMatchObject({ id: turn.replyId, status: 'failed', error_code: 'internal_error' });
    expect(await isBusy(turn.conversation.id)).toBe(false);
    expect(parts.generations.open()).toBe(0);
  });

  it('a stream that cannot open: the model call is given up and the conversation is free', async () => {
    const parts = engineWith(answering('never heard'));
    const turn = await begin(parts);
    const events = {
      start() {
        throw new Error('socket closed before the head was written');
      },
      delta() {},
    };
    await expect(parts.engine.run(turn.principal, turn.target, turn.plan, { events })).rejects.toThrow('socket closed');
    expect((await storedReply(turn.conversation.id))[0]?.status).toBe('failed');
    expect(await isBusy(turn.conversation.id)).toBe(false);
    expect(parts.generations.open()).toBe(0);
  });

  it('an after-turn step that fails is logged and the answer still arrives', async () => {
    const parts = engineWith(answering('fine answer'), [
      () => {
        throw new Error('usage accounting is down');
      },
    ]);
    const turn = await begin(parts);
    const result = await parts.engine.run(turn.principal, turn.target, turn.plan);
    expect(result.reply).toMatchObject({ status: 'complete', content: 'fine answer ' });
    expect(logged).toContain('an after-turn step failed');
    expect(await isBusy(turn.conversation.id)).toBe(false);
  });

  it('a stopped turn whose model ignores the abort ends as interrupted with what it produced', async () => {
    const stuck: ChatModel = {
      generate(_request, onDelta) {
        onDelta?.('partial ');
        return new Promise(() => {}); // never settles, whatever its signal says
      },
    };
    const parts = engineWith(stuck);
    const turn = await begin(parts);
    const events = { start() {}, delta() {} };
    const running = parts.engine.run(turn.principal, turn.target, turn.plan, { events });
    await new Promise((resolve) => setImmediate(resolve));
    expect(parts.generations.stop(turn.conversation.id, 'stopped')).toBe(true);
    const result = await running;
    expect(result.reply).toMatchObject({ status: 'interrupted', content: 'partial ' });
    expect(await isBusy(turn.conversation.id)).toBe(false);
    expect(parts.generations.open()).toBe(0);
  });

  it('shutdown drains a turn whose model ignores the abort, within its bounds', async () => {
    const parts = engineWith({ generate: () => new Promise(() => {}) });
    const turn = await begin(parts);
    const running = parts.engine.run(turn.principal, turn.target, turn.plan);
    await parts.generations.drain(50, 5_000);
    expect((await running).reply.status).toBe('interrupted');
    expect(await isBusy(turn.conversation.id)).toBe(false);
  });
});
