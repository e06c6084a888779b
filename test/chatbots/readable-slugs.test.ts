// A slug made from a chatbot's name is its public address (§5, §7: `/c/<slug>`, the widget's
// `data-chatbot`). Letters with an accent lose it (`Café` → `cafe`), but Latin letters that are no
// letter plus an accent were taken for punctuation or dropped: a Danish shop "Søren's Smørrebrød"
// got `s-ren-s-sm-rrebr-d`, a bakery in Łódź `odz-bakery`, a German "Straße Café" `stra-e-cafe`,
// "Þórsmörk Tours" `orsmork-tours`. Such letters are now written as their usual ASCII spellings
// (ø → o, ł → l, ß → ss, æ → ae, þ → th).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('slugs made from names in Latin scripts', () => {
  it.each([
    ["Søren's Smørrebrød", 'soren-s-smorrebrod'],
    ['Łódź Bakery', 'lodz-bakery'],
    ['Straße Café', 'strasse-cafe'],
    ['ÆRØSKØBING FÆRGE', 'aeroskobing-faerge'],
    ['Þórsmörk Tours', 'thorsmork-tours'],
    ['Œuvre Đorđević', 'oeuvre-dordevic'],
    ['Istanbul Kılıç Desk', 'istanbul-kilic-desk'],
    ['Café Ünïcode', 'cafe-unicode'],
  ])('%j is given the slug %j', async (name, slug) => {
    const owner = await registerUser(t);
    const response = await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(owner.accessToken), payload: { name } });
    expect(response.statusCode, response.body).toBe(201);
    expect(json(response)).toMatchObject({ name, slug });
  });

  it('still numbers a second chatbot of the same name, and falls back for names with no Latin letter', async () => {
    const owner = await registerUser(t);
    const create = async (name: string) =>
      json(await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(owner.accessToken), payload: { name } })).slug;
    expect(await create('Ølstue Bar')).toBe('olstue-bar');
    expect(await create('Ølstue Bar')).toBe('olstue-bar-2');
    expect(await create('客服')).toMatch(/^chatbot(-\d+)?$/);
  });
});
