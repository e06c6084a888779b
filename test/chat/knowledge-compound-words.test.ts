// Technical documents write names joined by dots, underscores and colons: `max_tokens`,
// `config.yaml`, `example.com`, `app:start`. Word segmentation keeps each as one word, so a
// question in plain words ("how do I change max tokens?", "which yaml file?") shared no term with
// the document that answers it, and a question written as an identifier ("request_timeout?")
// none with a document in prose ("the request timeout is 30 seconds"). A docs chatbot is one of
// the commonest uses of knowledge; its users write both ways.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/db/migrate.js';
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

const ask = (chatbotId: string, question: string) => askOnce(t, owner, chatbotId, question);

async function docsBot(name: string) {
  const bot = await createChatbot(t, owner, { name });
  await addKnowledge(t, owner, bot.id, 'Limits', 'Replies are limited by max_tokens in config.yaml, read at start-up.');
  await addKnowledge(t, owner, bot.id, 'Timeouts', 'The request timeout is 30 seconds; slower upstreams are cut.');
  await addKnowledge(t, owner, bot.id, 'Billing', 'Invoices are sent monthly by e-mail to the account holder.');
  return bot;
}

describe('a name joined by dots, underscores or colons', () => {
  it('is found by its parts written as words', async () => {
    const bot = await docsBot('Docs');
    expect(await ask(bot.id, 'Where do I change max tokens?')).toContain('config.yaml');
    expect(await ask(bot.id, 'Which yaml file holds it?')).toContain('max_tokens');
  });

  it('finds the words it joins, written in a question', async () => {
    const bot = await docsBot('Docs 2');
    expect(await ask(bot.id, 'request_timeout?')).toContain('30 seconds');
    expect(await ask(bot.id, 'max_tokens')).toContain('config.yaml');
  });

  it('is not split into single letters or numbers alone', async () => {
    const bot = await createChatbot(t, owner, { name: 'Versions' });
    await addKnowledge(t, owner, bot.id, 'Release', 'Version 3.14 ships in the U.S.A first.');
    const [row] = await t.database.sql.query<{ search: string }>(`SELECT search::text AS search FROM knowledge_chunks WHERE chatbot_id = '${bot.id}'`);
    const lexemes = row!.search.match(/'(?:[^']|'')+'/g)!.map((quoted) => quoted.slice(1, -1));
    expect(lexemes).toEqual(expect.arrayContaining(['3.14', 'u.s.a']));
    expect(lexemes).not.toEqual(expect.arrayContaining(['14']));
    expect(lexemes.filter((lexeme) => lexeme.length === 1)).toEqual([]);
  });

  it('is found by its parts in documents added before, once the database is migrated', async () => {
    const bot = await docsBot('Docs before');
    // As such documents were stored before: the joined names only, without their parts.
    await t.database.sql.exec(`UPDATE knowledge_chunks SET search = ts_delete(search, ARRAY['max', 'token', 'config', 'yaml', 'request', 'timeout'])
                                WHERE chatbot_id = '${bot.id}' AND search @@ '''max_tokens'''::tsquery`);
    expect(await ask(bot.id, 'Which yaml file holds it?')).not.toContain('max_tokens');

    const migration = loadMigrations().find((m) => m.id === '0033_knowledge_terms_joined');
    expect(migration).toBeDefined();
    await t.database.sql.transaction((tx) => tx.exec(migration!.sql));

    expect(await ask(bot.id, 'Where do I change max tokens?')).toContain('config.yaml');
    expect(await ask(bot.id, 'Which yaml file holds it?')).toContain('max_tokens');
    const [table] = await t.database.sql.query<{ forced: boolean }>(`SELECT relforcerowsecurity AS forced FROM pg_class WHERE oid = 'knowledge_chunks'::regclass`);
    expect(table!.forced).toBe(true);
  });
});
