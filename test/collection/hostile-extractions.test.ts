// What a model extracts is untrusted: a message can tell it what to answer. Every value it gives
// was validated before it was checked against the user's message, each up to 20,000 characters,
// and a list's items 20 fields at a time, whatever the message: after "Here are our items", one
// extraction of 400 KB of numbers written "1,11,11,…" held the event loop 2.4 s (4.3 s measured
// alone: the pattern for thousands separators was tried from after every comma to the end of the
// run), and 800 KB of answers to fields with 100 options 5.4 s. /health waited behind it, as
// every other tenant did.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, listen, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { timedHealth } from '../helpers/timed-health.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

/**
 * Far above a free event loop (539 ms seen once, the machine oversubscribed by other test runs),
 * far below the freezes this guards against (2.4 s to 18 s before the bound on what a turn reads).
 */
const STALL_BOUND_MS = 1000;

let fake: FakeLlm;
let t: TestApp;
let base: string;

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
  base = await listen(t);
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const OPTIONS = Array.from({ length: 100 }, (_, i) => ({ value: `plan_${i}`, label: `Plan number ${i}` }));

/** A list whose items have 20 fields of one type, and a required email the user never gives. */
function collectOf(type: 'number' | 'enum') {
  const itemFields = Array.from({ length: 20 }, (_, i) => ({ key: `part_${i}`, label: `part ${i}`, type, ...(type === 'enum' ? { options: OPTIONS } : {}) }));
  return {
    fields: [
      { key: 'contact_email', label: 'contact email', type: 'email', required: true },
      { key: 'items', label: 'items', type: 'list', item_fields: itemFields },
    ],
  };
}

async function extractedWhileHealthPolled(type: 'number' | 'enum', items: unknown[], content = 'Here are our items') {
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, { name: 'Form bot', collect: collectOf(type) });
  const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
  fake.setExtraction(() => ({ contact_email: null, items }));
  let sending = true;
  const sent = sendMessage(t, owner, conversation.id, { content }).finally(() => (sending = false));
  const waits: number[] = [];
  while (sending) waits.push(await timedHealth(base));
  const response = await sent;
  const data = json(await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/data`, headers: bearer(owner.accessToken) }));
  return { status: response.statusCode, data: data.data as Record<string, unknown>, waits };
}

const item = (value: (field: number) => string) => Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`part_${i}`, value(i)]));

describe('a hostile extraction', () => {
  it('of numbers written with thousands of separators leaves /health answering', { timeout: 120_000 }, async () => {
    const separated = `1${',11'.repeat(7_000)}`;
    const { status, data, waits } = await extractedWhileHealthPolled('number', [item((i) => separated.slice(i, i + 19_999))]);
    expect(status).toBe(201);
    expect(data).toEqual({});
    expect(Math.max(...waits), `/health waited ${waits.map(Math.round).join(', ')} ms`).toBeLessThan(STALL_BOUND_MS);
  });

  it('of numbers the message itself states, thousands of separators long, leaves /health answering', { timeout: 120_000 }, async () => {
    // 32,000 characters, each pair "1🄂" written "11," once folded: "11,11,11,…" is what the
    // numbers are read from. Within what the message may give: four stretches of it, and a number
    // it states (11), which is looked for among every number of the message.
    const message = '1\u{1F102}'.repeat(16_000);
    const separated = `1${'1,1'.repeat(16_000)}`;
    const { status, waits } = await extractedWhileHealthPolled(
      'number',
      [item((i) => (i === 0 ? (11 as unknown as string) : i < 5 ? separated.slice(i * 3, i * 3 + 19_999) : ''))],
      message,
    );
    expect(status).toBe(201);
    expect(Math.max(...waits), `/health waited ${waits.map(Math.round).join(', ')} ms`).toBeLessThan(STALL_BOUND_MS);
  });

  it('of long answers to fields with 100 options leaves /health answering', { timeout: 120_000 }, async () => {
    const words = 'a '.repeat(9_999);
    const { status, data, waits } = await extractedWhileHealthPolled('enum', [item((i) => `${words}${i}`), item((i) => `${words}b${i}`)]);
    expect(status).toBe(201);
    expect(data).toEqual({});
    expect(Math.max(...waits), `/health waited ${waits.map(Math.round).join(', ')} ms`).toBeLessThan(STALL_BOUND_MS);
  });
});
