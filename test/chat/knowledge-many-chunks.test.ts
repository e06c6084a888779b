// The knowledge search ranks at most 1,000 chunks (migrations/0025). When the question's rarest
// word is in more chunks than that, which 1,000 were ranked was the order the index gave them in:
// the chunks stored first. A one-line answer added after large documents that use its word
// throughout was never among them, though full-text rank puts it first among all of them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { addKnowledge, askOnce } from '../helpers/knowledge.js';

let t: TestApp;
let owner: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
});

/** A manual that names the warranty on every line, among part numbers: about 400 chunks. */
function manual(volume: number): string {
  const lines: string[] = [];
  for (let line = 0, length = 0; length < 480_000; line++) {
    const parts = Array.from({ length: 12 }, (_, i) => `p${volume}${(line * 12 + i) % 5000}`).join(' ');
    const text = `Warranty note ${line}: parts ${parts} are covered.`;
    lines.push(text);
    length += text.length + 1;
  }
  return lines.join('\n');
}

describe('a word in more than 1,000 chunks', () => {
  it('still finds the one-line answer added after them', async () => {
    const bot = await createChatbot(t, owner, { name: 'Manuals' });
    let chunks = 0;
    for (let volume = 1; volume <= 3; volume++) chunks += (await addKnowledge(t, owner, bot.id, `Manual ${volume}`, manual(volume))).chunk_count;
    expect(chunks).toBeGreaterThan(1_000);
    await addKnowledge(t, owner, bot.id, 'Warranty', 'Warranty: two years on every model.');

    expect(await askOnce(t, owner, bot.id, 'Warranty?')).toBe('Warranty: two years on every model.');
  }, 120_000);
});
