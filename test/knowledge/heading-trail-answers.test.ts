// A long section of a Markdown manual is stored in several chunks, each later one starting with
// the headings it sits under ("# Printer manual\n## Installation"), so that it still says what it
// is about. The builtin responder answers with the paragraph of the best chunk that shares most of
// the question's words, and took those heading lines for a paragraph of their own: asked "printer
// installation?", a chatbot answered "# Printer manual\n## Installation" and nothing else. The
// headings are now kept with the paragraph under them, as a single heading line already was.
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

const STEPS = Array.from({ length: 60 }, (_, i) => `Step ${i}: copy file number ${i} into the folder and check it twice before you go on.`);
const MANUAL = `# Printer manual\n\nThis manual covers the printer.\n\n## Installation\n\n${STEPS.join('\n\n')}\n\n## Cleaning\n\nWipe it.`;

describe('the builtin responder, asked about a section stored in several chunks', () => {
  it('answers with the section\'s text under its headings, never the headings alone', async () => {
    const bot = await createChatbot(t, owner, { name: 'Printer help' });
    const doc = await addKnowledge(t, owner, bot.id, 'Manual', MANUAL);
    expect(doc.chunk_count).toBeGreaterThan(2);

    for (const question of ['printer installation?', 'Which step of the printer installation copies file number 40?']) {
      const answer = await askOnce(t, owner, bot.id, question);
      expect(answer, question).toMatch(/^# Printer manual\n## Installation\n\nStep \d+: copy file number \d+ into the folder/);
      expect(STEPS.some((step) => answer.endsWith(step)), answer).toBe(true);
    }
  });
});
