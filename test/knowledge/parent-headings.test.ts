// A manual written as one section per country, each with its own subsections ("# Japan", then
// "## Returns" with a long text under it), was stored with a chunk holding nothing but "# Japan",
// and the chunk that says "You have 14 days to return an item" began "## Returns" with no word of
// Japan. Asked about returns in Japan, a chatbot answered "# Japan" and nothing else, or read the
// 14 days without knowing which country they were for. Headings with nothing under them now go
// atop the first chunk of the section they lead to, as they already go atop its later chunks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkDocument } from '../../src/features/knowledge/chunking.js';
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

const returns = (days: number) =>
  `You have ${days} days to return an item.\n\n` +
  Array.from({ length: 30 }, (_, i) => `Rule ${i}: the parcel must be sealed and labelled before the courier takes it away.`).join('\n\n');
const MANUAL = `# Japan\n\n## Returns\n\n${returns(14)}\n\n# Germany\n\n## Returns\n\n${returns(30)}`;

describe('a section whose heading has nothing under it but subsections', () => {
  it('stores no chunk of headings alone, and its subsection\'s first chunk names it', () => {
    const chunks = chunkDocument(MANUAL).map((chunk) => chunk.content);
    expect(chunks.filter((chunk) => chunk.split('\n').every((line) => line.startsWith('#')))).toEqual([]);
    expect(chunks.find((chunk) => chunk.includes('14 days'))!.startsWith('# Japan\n## Returns\n\nYou have 14 days')).toBe(true);
    expect(chunks.find((chunk) => chunk.includes('30 days'))!.startsWith('# Germany\n## Returns\n\nYou have 30 days')).toBe(true);
  });

  it('is answered from the text under it', async () => {
    const bot = await createChatbot(t, owner, { name: 'Returns desk' });
    await addKnowledge(t, owner, bot.id, 'Returns by country', MANUAL);
    expect(await askOnce(t, owner, bot.id, 'Japan?')).not.toBe('# Japan');
    expect(await askOnce(t, owner, bot.id, 'How many days do I have for returns in Japan?')).toBe('# Japan\n## Returns\n\nYou have 14 days to return an item.');
    expect(await askOnce(t, owner, bot.id, 'How many days do I have for returns in Germany?')).toBe('# Germany\n## Returns\n\nYou have 30 days to return an item.');
  });
});
