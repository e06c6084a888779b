// A chatbot's list fields may change while its conversations collect: an item field added as
// required, or one taken away. Items stored before are then not valid as the schema now reads
// them, so the list is asked for again, as any value the schema no longer accepts. But the items
// given anew were added after the old ones, which stayed: the list never became valid, the bot
// asked for it again after each "done", and the conversation could never complete, with the
// builtin responder or a model alike. And `missing` named such a list only when it held no item:
// the owner read `missing: []` on a conversation that could not complete.
import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { bearer } from '../helpers/factories.js';
import { collected, collectingConversation, collectionStage, say, type CollectingConversation } from './stage.js';

const stage = collectionStage();

const name = { key: 'name', label: 'product name', type: 'string', required: true };
const price = { key: 'price', label: 'price', type: 'number', required: false };
const sku = { key: 'sku', label: 'SKU', type: 'string', required: true };

const collectWith = (itemFields: unknown[]) => ({
  fields: [
    { key: 'products', label: 'products', type: 'list', required: true, item_fields: itemFields },
    { key: 'email', label: 'email', type: 'email', required: true },
  ],
});

async function changeCollect(t: TestApp, conversation: CollectingConversation, collect: unknown): Promise<void> {
  const owner = conversation.owner;
  const chatbots = await t.request({ method: 'GET', url: '/v1/chatbots', headers: bearer(owner.accessToken) });
  const chatbot = (chatbots.json().data as Array<{ id: string; name: string }>).find((bot) => bot.name === 'Catalogue bot')!;
  const changed = await t.request({ method: 'PATCH', url: `/v1/chatbots/${chatbot.id}`, headers: bearer(owner.accessToken), payload: { collect } });
  expect(changed.statusCode, changed.body).toBe(200);
}

/** "hi", then one product (name, price) and "done": the bot asks for the email next. */
async function oneProductGiven(): Promise<CollectingConversation> {
  const conversation = await collectingConversation(stage.builtin, collectWith([name, price]), 'Catalogue bot');
  await say(conversation, 'hi');
  await say(conversation, 'Chip');
  await say(conversation, '9.5');
  expect(await say(conversation, 'done')).toContain('email');
  return conversation;
}

describe('a list whose item fields changed after items were stored, with the builtin responder', () => {
  it('an item field added as required: the items given anew replace the old ones, and the conversation completes', async () => {
    const conversation = await oneProductGiven();
    await changeCollect(stage.builtin, conversation, collectWith([name, sku, price]));

    expect(await say(conversation, 'dana@example.org')).toContain('product name');
    // The list is asked for again, and named missing while it is.
    expect(await collected(conversation)).toMatchObject({ missing: ['products'], completed: false });
    await say(conversation, 'Chip');
    await say(conversation, 'C-1');
    await say(conversation, '9.5');
    await say(conversation, 'done');

    expect(await collected(conversation)).toEqual({
      data: { products: [{ name: 'Chip', sku: 'C-1', price: 9.5 }], email: 'dana@example.org' },
      missing: [],
      completed: true,
    });
  });

  it('an item field taken away: "done" keeps the items as the schema now reads them, and the conversation completes', async () => {
    const conversation = await oneProductGiven();
    await changeCollect(stage.builtin, conversation, collectWith([name]));

    expect(await say(conversation, 'dana@example.org')).toContain('product name');
    expect(await collected(conversation)).toMatchObject({ missing: ['products'], completed: false });
    await say(conversation, 'done');

    expect(await collected(conversation)).toEqual({
      data: { products: [{ name: 'Chip' }], email: 'dana@example.org' },
      missing: [],
      completed: true,
    });
  });
});

describe('a list whose item fields changed after items were stored, with a model', () => {
  it('an item field added as required: the item stated anew replaces the old one, and the conversation completes', async () => {
    const conversation = await collectingConversation(stage.model, collectWith([name, price]), 'Catalogue bot');
    stage.fake.setExtraction(() => ({ products: [{ name: 'Chip', price: 9.5 }], email: null }));
    await say(conversation, 'We sell the Chip at 9.5');
    expect((await collected(conversation)).data).toEqual({ products: [{ name: 'Chip', price: 9.5 }] });

    await changeCollect(stage.model, conversation, collectWith([name, sku, price]));
    expect(await collected(conversation)).toMatchObject({ missing: ['products', 'email'], completed: false });
    stage.fake.setExtraction(() => ({ products: [{ name: 'Chip', sku: 'C-1', price: 9.5 }], email: 'dana@example.org' }));
    await say(conversation, 'The Chip is SKU C-1 at 9.5; I am dana@example.org');

    expect(await collected(conversation)).toEqual({
      data: { products: [{ name: 'Chip', sku: 'C-1', price: 9.5 }], email: 'dana@example.org' },
      missing: [],
      completed: true,
    });
  });
});
