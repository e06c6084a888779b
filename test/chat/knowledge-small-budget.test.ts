// Knowledge under a small CONTEXT_TOKEN_BUDGET (§6.2), read from the fake LLM's side. Knowledge may
// take a quarter of the budget, and a document is stored in chunks of up to 400 tokens: an owner who
// sets a budget below about 1,600 tokens for a small model had every chunk refused as too large, so
// the model was never shown the knowledge the question is about. A chunk too large for what is left
// is now cut to its passage about the question, and the prompt stays within the budget.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countTokens } from '../../src/llm/tokens.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, fakeLlmEnv } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { addKnowledge, askOnce } from '../helpers/knowledge.js';

const BUDGET = 1000;

let fake: FakeLlm;
let t: TestApp;
let owner: RegisteredUser;
beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url, { CONTEXT_TOKEN_BUDGET: String(BUDGET) }));
  owner = await registerUser(t);
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

type Sent = Array<{ role: string; content: string }>;

const lastPrompt = (): Sent => fake.requests.at(-1)!.messages;
/** The fenced knowledge the model was shown, '' when none. */
const knowledgeShown = (messages: Sent) => /<knowledge [^>]*>([\s\S]*?)<\/knowledge>/.exec(messages.map((m) => m.content).join('\n'))?.[1] ?? '';
const promptTokens = (messages: Sent) => messages.reduce((sum, m) => sum + countTokens(m.content) + 3, 0);

const ordinary = (topic: string) =>
  `The ${topic} routine is followed by every member of staff: shelves are checked, aisles are swept, lights are tested and stock is rotated so that older goods are sold first. `.repeat(2);

/** One chunk of about 400 tokens whose answer sits near its end, past what a quarter of the budget holds. */
const HANDBOOK = [
  '# Staff handbook',
  ...['morning', 'midday', 'evening', 'weekend', 'holiday'].map((topic) => `## ${topic[0]!.toUpperCase()}${topic.slice(1)}\n\n${ordinary(topic)}`),
  '## Returns\n\nA parcel may be sent back within 30 days for a full refund.',
].join('\n\n');

describe('knowledge under a small context budget', () => {
  it('shows the model the passage of a chunk larger than its share that answers the question', async () => {
    const bot = await createChatbot(t, owner, { name: 'Small model shop' });
    const doc = await addKnowledge(t, owner, bot.id, 'Handbook', HANDBOOK);
    expect(doc.chunk_count).toBe(1);
    expect(countTokens(HANDBOOK)).toBeGreaterThan(BUDGET / 4);

    await askOnce(t, owner, bot.id, 'How many days do I have to send a parcel back for a refund?');
    const sent = lastPrompt();
    expect(knowledgeShown(sent)).toContain('within 30 days for a full refund');
    expect(promptTokens(sent)).toBeLessThanOrEqual(BUDGET);
  });

  it('cuts a chunk that is one long line, with no line breaks, at its sentences', async () => {
    const bot = await createChatbot(t, owner, { name: 'One line shop' });
    const oneLine = HANDBOOK.replace(/\s+/g, ' ');
    expect((await addKnowledge(t, owner, bot.id, 'Handbook', oneLine)).chunk_count).toBe(1);

    await askOnce(t, owner, bot.id, 'How many days do I have to send a parcel back for a refund?');
    const sent = lastPrompt();
    expect(knowledgeShown(sent)).toContain('within 30 days for a full refund');
    expect(promptTokens(sent)).toBeLessThanOrEqual(BUDGET);
  });

  it('still shows whole chunks that fit, best first', async () => {
    const bot = await createChatbot(t, owner, { name: 'Short notes' });
    await addKnowledge(t, owner, bot.id, 'Returns', 'Parcels may be sent back within 30 days.');
    await addKnowledge(t, owner, bot.id, 'Hours', 'We open on Saturday from 9 to 5.');

    await askOnce(t, owner, bot.id, 'Can a parcel be sent back?');
    expect(knowledgeShown(lastPrompt()).trim()).toBe('[1] Document: Returns\nParcels may be sent back within 30 days.');
  });
});
