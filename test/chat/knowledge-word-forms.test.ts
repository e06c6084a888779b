// Text pasted from web pages and typed on phones carries characters nobody sees: soft hyphens
// inside long words, direction marks beside Hebrew and Arabic words, joiners in Persian and
// Bengali. And JavaScript lowercases Turkish "İ" as "i" with a combining dot above, which "i" as
// typed is not. Each made a word of a document or a question a different term from the same word
// written plainly, so the knowledge that names it was never found. So did accents: headings in
// capitals drop them in Greek and French ("ΩΡΑΡΙΟ", "ECOLE"), many type without them, and Swiss
// German writes "ss" for "ß". And French and Italian elide articles: "l'école" was never "école",
// nor "Parley's" "Parley", nor Turkish "İstanbul'da" (in Istanbul) "İstanbul". Nor did a plural
// find its singular.
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

async function botWith(name: string, ...documents: Array<[string, string]>) {
  const bot = await createChatbot(t, owner, { name });
  for (const [title, content] of documents) await addKnowledge(t, owner, bot.id, title, content);
  return bot;
}

describe('a word written with invisible characters or a Turkish capital', () => {
  it('is found by the same word written plainly, in a document', async () => {
    const bot = await botWith(
      'Laden',
      ['Zeiten', 'Unsere Öff\u00ADnungs\u00ADzeiten: Samstag 10–14 Uhr.'],
      ['Ofis', 'Merkez ofis İstanbul, Kadıköy.'],
      ['অফিস', 'আমাদের অফিস ঢাকা\u200Cয়।'],
    );
    expect(await ask(bot.id, 'Öffnungszeiten?')).toContain('Samstag 10–14 Uhr');
    expect(await ask(bot.id, 'istanbul')).toContain('Kadıköy');
    expect(await ask(bot.id, 'ঢাকায়')).toContain('আমাদের অফিস');
  });

  it('finds the plain word, in a question', async () => {
    const bot = await botWith('Hours', ['Hours', 'שעות פתיחה: יום שישי 9–13.'], ['Office', 'Merkez ofis istanbul, Kadıköy.']);
    expect(await ask(bot.id, 'פתיחה\u200F?')).toContain('יום שישי 9–13');
    expect(await ask(bot.id, 'İSTANBUL')).toContain('Kadıköy');
    expect(await ask(bot.id, 'İstanbul')).toContain('Kadıköy');
  });

  it('is found in documents added before, once the database is migrated', async () => {
    const bot = await botWith('Before', ['Zeiten', 'Samstag 10–14 Uhr, Öffnungszeiten.'], ['Ofis', 'Merkez ofis İstanbul, Kadıköy.']);
    // As such documents were stored before: the terms kept the soft hyphen and the combining dot.
    await t.database.sql.exec(`UPDATE knowledge_chunks SET search = replace(search::text, 'öffnungszeiten', 'öff' || chr(173) || 'nungs' || chr(173) || 'zeiten')::tsvector
                                WHERE chatbot_id = '${bot.id}'`);
    await t.database.sql.exec(`UPDATE knowledge_chunks SET search = replace(search::text, 'istanbul', 'i' || chr(775) || 'stanbul')::tsvector
                                WHERE chatbot_id = '${bot.id}'`);
    const migration = loadMigrations().find((m) => m.id === '0028_knowledge_terms_again');
    expect(migration).toBeDefined();
    await t.database.sql.transaction((tx) => tx.exec(migration!.sql));

    expect(await ask(bot.id, 'Öffnungszeiten?')).toContain('Samstag 10–14 Uhr');
    expect(await ask(bot.id, 'istanbul')).toContain('Kadıköy');
    const stored = await t.database.sql.query<{ search: string }>(`SELECT search::text AS search FROM knowledge_chunks WHERE chatbot_id = '${bot.id}'`);
    expect(stored.map((row) => row.search).join(' ')).not.toMatch(/\u00AD|\u0307/u);
    // Lifted for the migration only: the table's owner is held to row security again.
    const [table] = await t.database.sql.query<{ forced: boolean }>(`SELECT relforcerowsecurity AS forced FROM pg_class WHERE oid = 'knowledge_chunks'::regclass`);
    expect(table!.forced).toBe(true);
  });
});

describe('a word written with or without its accents', () => {
  it('is found either way, in Latin and Greek writing, and "Strasse" finds "Straße"', async () => {
    const bot = await botWith(
      'Schule',
      ['Horaires', 'Notre école ouvre le samedi à 9 h.'],
      ['Ωράριο', 'Ωράριο γραφείου: Δευτέρα έως Παρασκευή.'],
      ['Adresse', 'Hauptstraße 5, Zürich.'],
      ['Menu', 'Creme brulee, six euros.'],
    );
    expect(await ask(bot.id, 'ECOLE?')).toContain('samedi');
    expect(await ask(bot.id, 'ΩΡΑΡΙΟ')).toContain('Δευτέρα');
    expect(await ask(bot.id, 'ωραριο;')).toContain('Δευτέρα');
    expect(await ask(bot.id, 'Hauptstrasse?')).toContain('Zürich');
    expect(await ask(bot.id, 'Crème brûlée?')).toContain('six euros');
  });

  it("finds a French word after an elided article, and the article's word alone", async () => {
    const bot = await botWith('Hôtel', ['Accueil', "L'hôtel ouvre à 7 h."], ['Horaires', 'Notre école ouvre le samedi.']);
    expect(await ask(bot.id, 'Hôtel?')).toContain('7 h');
    expect(await ask(bot.id, "Où est l'école?")).toContain('samedi');
  });

  it("finds a word written with 's after it, and the other way round", async () => {
    const bot = await botWith('Speed', ['Loading', "Parley's widget loads in 40 ms."], ['Looks', 'The widget has a dark theme.'], ['Times', 'The shop opens at nine.']);
    expect(await ask(bot.id, 'Parley?')).toContain('40 ms');
    expect(await ask(bot.id, "And the shop's?")).toContain('opens at nine');
  });

  it('finds a plural by its singular and the other way round', async () => {
    const bot = await botWith('Shop', ['Footwear', 'We sell one shoe model in twelve colours.'], ['Terms', 'Our return policies: thirty days for every order.']);
    expect(await ask(bot.id, 'Shoes?')).toContain('twelve colours');
    expect(await ask(bot.id, 'Policy?')).toContain('thirty days');
  });

  it("finds a name written with a Turkish case ending after an apostrophe, and the name alone", async () => {
    const bot = await botWith('Ofis', ['Adres', "Merkez ofisimiz İstanbul'da, Kadıköy."], ['Saat', 'Hafta içi 9–18 açığız.']);
    expect(await ask(bot.id, 'Istanbul?')).toContain('Kadıköy');
    expect(await ask(bot.id, 'kadikoy')).toContain("İstanbul'da");
    expect(await ask(bot.id, "İstanbul'daki ofis nerede?")).toContain('Kadıköy');
  });

  it('keeps letters of their own apart: Cyrillic "й" is not "и"', async () => {
    const bot = await botWith('Дом', ['Часы', 'Мои часы работы: с 9 до 18.'], ['Адрес', 'Мой адрес: улица Ленина, 1.']);
    expect(await ask(bot.id, 'мой')).toContain('улица Ленина');
    expect(await ask(bot.id, 'мои')).toContain('с 9 до 18');
  });

  it('is found in documents added before, once the database is migrated', async () => {
    const bot = await botWith(
      'Avant',
      ['Horaires', 'Notre école ouvre le samedi.'],
      ['Adresse', 'Hauptstraße 5, Zürich.'],
      ['Ωράριο', 'Ωράριο: Δευτέρα.'],
      ['Accueil', "L'hôtel ouvre à 7 h."],
      ['Speed', "Parley's widget loads in 40 ms."],
      ['Adres', "Merkez ofisimiz İstanbul'da, Kadıköy."],
      ['Footwear', 'Shoes in twelve colours.'],
    );
    // As such documents were stored before: the terms kept their accents, "ß", and the elided article
    // (a quote inside a lexeme is doubled in a tsvector's text, and again in the SQL literal).
    for (const [plain, accented] of [['ecole', 'école'], ['hauptstrasse', 'hauptstraße'], ['ωραριο', 'ωράριο'], ['hotel', "l''''hôtel"], ['parley', "parley''''s"], ['istanbul', "istanbul''''da"], ['kadikoy', 'kadıköy'], ['shoe', 'shoes']]) {
      await t.database.sql.exec(`UPDATE knowledge_chunks SET search = replace(search::text, '${plain}', '${accented}')::tsvector WHERE chatbot_id = '${bot.id}'`);
    }
    const before = await t.database.sql.query<{ search: string }>(`SELECT search::text AS search FROM knowledge_chunks WHERE chatbot_id = '${bot.id}'`);
    expect(before.map((row) => row.search).join(' ')).toMatch(/école[^]*l''hôtel|l''hôtel[^]*école/u);
    const migration = loadMigrations().find((m) => m.id === '0029_knowledge_terms_folded');
    expect(migration).toBeDefined();
    await t.database.sql.transaction((tx) => tx.exec(migration!.sql));

    expect(await ask(bot.id, 'École?')).toContain('samedi');
    expect(await ask(bot.id, 'Hauptstraße')).toContain('Zürich');
    expect(await ask(bot.id, 'ΩΡΑΡΙΟ')).toContain('Δευτέρα');
    expect(await ask(bot.id, 'hôtel')).toContain('7 h');
    expect(await ask(bot.id, 'Parley?')).toContain('40 ms');
    expect(await ask(bot.id, 'istanbul')).toContain('Kadıköy');
    expect(await ask(bot.id, 'Kadikoy')).toContain('Merkez');
    expect(await ask(bot.id, 'A shoe?')).toContain('twelve colours');
    const stored = await t.database.sql.query<{ search: string }>(`SELECT search::text AS search FROM knowledge_chunks WHERE chatbot_id = '${bot.id}'`);
    const terms = stored.map((row) => row.search).join(' ');
    expect(terms).toContain('ecole');
    expect(terms).not.toMatch(/[éßάôıö]|l''|''s|''da|'shoes'/u);
    const [table] = await t.database.sql.query<{ forced: boolean }>(`SELECT relforcerowsecurity AS forced FROM pg_class WHERE oid = 'knowledge_chunks'::regclass`);
    expect(table!.forced).toBe(true);
  });
});
