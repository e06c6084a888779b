// An order or a lead told in words was stored as another number. "Two dozen" was read as two
// plus twelve (14, not 24), "2 dozen" as 2, "half a dozen" as 12 and "half a million" as a
// million: "dozen" was a number to add rather than one to multiply by, and "half" was not read. The builtin
// responder thanked the user for the wrong quantity; a model that read "two dozen" right (24)
// had its value refused as not stated, and one that gave 14 had it stored.
import { describe, expect, it } from 'vitest';
import { collectingConversation, collectionStage, dataOf, say } from './stage.js';

const COLLECT = {
  fields: [
    { key: 'quantity', label: 'Quantity', type: 'number', required: true },
    { key: 'name', label: 'Name', type: 'string', required: true },
  ],
};

const stage = collectionStage();

/** What the builtin responder stores when asked for the quantity and answered `answer`. */
async function builtinAnswer(answer: string) {
  const conversation = await collectingConversation(stage.builtin, COLLECT, 'Order bot');
  await say(conversation, 'Hello');
  await say(conversation, answer);
  return dataOf(conversation);
}

describe('the builtin responder asked for a quantity', () => {
  it.each([
    ['two dozen', 24],
    ['Two dozen, please', 24],
    ['a dozen', 12],
    ['half a dozen', 6],
    ['three dozen roses', 36],
    ['2 dozen', 24],
    ['half a million', 500_000],
    ['a quarter million', 250_000],
    ['twelve hundred', 1200],
    ['one hundred and twenty', 120],
    ['1.1 dozen', 13.2],
    ['1.5 dozen', 18],
  ])('stores "%s" as %d', async (answer, stored) => {
    expect(await builtinAnswer(answer)).toEqual({ quantity: stored });
  });
});

describe('a fraction word after a number', () => {
  it('is no part of it: "one quarter million" is not stored as 1,250,000', async () => {
    expect(await builtinAnswer('one quarter million')).not.toEqual({ quantity: 1_250_000 });
  });
});

describe('a model asked for the same', () => {
  it.each([
    [24, 'We need two dozen.'],
    [500_000, 'Our budget is half a million.'],
  ])('has %d stored when the user says "%s"', async (value, content) => {
    const conversation = await collectingConversation(stage.model, COLLECT, 'Order bot');
    stage.fake.setExtraction(() => ({ quantity: value, name: null }));
    await say(conversation, content);
    expect(await dataOf(conversation)).toEqual({ quantity: value });
  });

  it('cannot have two plus twelve stored for "two dozen"', async () => {
    const conversation = await collectingConversation(stage.model, COLLECT, 'Order bot');
    stage.fake.setExtraction(() => ({ quantity: 14, name: null }));
    await say(conversation, 'We need two dozen.');
    expect(await dataOf(conversation)).toEqual({});
  });
});
