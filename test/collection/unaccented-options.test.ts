// An enum option written with an accent (Café, Crêperie, Bäckerei) could not be chosen by a user
// who typed it without one, as phone keyboards and most people do: "cafe" was answered "Sorry,
// please choose Café, Bar or Restaurant" again and again, and with a model the option it chose
// from "we run a small cafe" was refused as "not stated". Accents are now forgiven on an enum's
// answer when that still names one option only; other field types keep the user's spelling.
import { describe, expect, it } from 'vitest';
import { collectingConversation, collectionStage, dataOf, say } from './stage.js';

const COLLECT = {
  fields: [
    { key: 'kind', label: 'Kind of business', type: 'enum', required: true, options: ['Café', 'Crêperie', 'Bäckerei', 'Bar'] },
    { key: 'name', label: 'Name', type: 'string', required: true },
  ],
};

const stage = collectionStage();

async function builtinAnswer(answer: string, collect: unknown = COLLECT) {
  const conversation = await collectingConversation(stage.builtin, collect, 'Shop bot');
  await say(conversation, 'Hello');
  await say(conversation, answer);
  return dataOf(conversation);
}

describe('an enum option with an accent, answered without it', () => {
  it.each([
    ['cafe', 'Café'],
    ['A creperie, please', 'Crêperie'],
    ['backerei', 'Bäckerei'],
    ['We run a small cafe', 'Café'],
  ])('the builtin responder stores "%s" as %s', async (answer, stored) => {
    expect(await builtinAnswer(answer)).toEqual({ kind: stored });
  });

  it('is still not guessed between two options that differ by their accents alone', async () => {
    const collect = { fields: [{ key: 'kind', label: 'Kind', type: 'enum', required: true, options: ['Resume', 'Résumé'] }] };
    expect(await builtinAnswer('résumé', collect)).toEqual({ kind: 'Résumé' });
    expect(await builtinAnswer('resume', collect)).toEqual({ kind: 'Resume' });
    expect(await builtinAnswer('a resumé', collect)).toEqual({});
  });

  it('forgives the accents of Latin letters only: Cyrillic "мои" does not choose "Мой"', async () => {
    const collect = { fields: [{ key: 'kind', label: 'Kind', type: 'enum', required: true, options: ['Мой', 'Наш'] }] };
    expect(await builtinAnswer('мои', collect)).toEqual({});
    expect(await builtinAnswer('мой', collect)).toEqual({ kind: 'Мой' });
  });

  it('reads the spellings knowledge search forgives too: Swiss "ss" for "ß", Greek without its accents', async () => {
    const streets = { fields: [{ key: 'kind', label: 'Kind', type: 'enum', required: true, options: ['Straße', 'Platz'] }] };
    expect(await builtinAnswer('strasse', streets)).toEqual({ kind: 'Straße' });
    const greek = { fields: [{ key: 'kind', label: 'Kind', type: 'enum', required: true, options: ['Καφέ', 'Ταβέρνα'] }] };
    expect(await builtinAnswer('καφε', greek)).toEqual({ kind: 'Καφέ' });
  });

  it('a model has the option it chose stored', async () => {
    const conversation = await collectingConversation(stage.model, COLLECT, 'Shop bot');
    stage.fake.setExtraction(() => ({ kind: 'Café', name: null }));
    await say(conversation, 'We run a small cafe in Lyon.');
    expect(await dataOf(conversation)).toEqual({ kind: 'Café' });
  });
});
