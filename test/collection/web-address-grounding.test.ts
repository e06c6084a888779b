// A value a model gives is stored only when the user's message states it (§9). A web address was
// checked by its host and path alone: what a model added after them was stored as the user's. OpenAI's
// models append `?utm_source=chatgpt.com` to addresses they repeat, so "our site is acme.com" was
// stored as "https://acme.com?utm_source=chatgpt.com"; a query, a fragment or a port the user never
// wrote is no more theirs than a path they never wrote (which was refused already).
import { describe, expect, it } from 'vitest';
import { collectingConversation, collectionStage, dataOf, say } from './stage.js';

const COLLECT = {
  fields: [
    { key: 'website', label: 'website', type: 'url', required: true },
    { key: 'contact_email', label: 'contact email', type: 'email', required: true },
  ],
};

const stage = collectionStage();

/** What a model chatbot stores when its model gives `extracted` for the user's `content`. */
async function collected(extracted: string, content: string) {
  const conversation = await collectingConversation(stage.model, COLLECT);
  stage.fake.setExtraction(() => ({ website: extracted, contact_email: null }));
  await say(conversation, content);
  return dataOf(conversation);
}

describe('a web address a model gives', () => {
  it.each([
    ['a tracking query', 'https://acme.com/?utm_source=chatgpt.com'],
    ['a fragment', 'https://acme.com/#contact'],
    ['a port', 'https://acme.com:8443/'],
  ])('with %s the user never wrote is not stored', async (_, extracted) => {
    expect(await collected(extracted, 'Our site is acme.com')).toEqual({});
  });

  it.each([
    ['a query and a fragment', 'Our pricing page is acme.com/pricing?plan=pro#faq', 'https://acme.com/pricing?plan=pro#faq'],
    ['a port', 'The portal is at acme.com:8443', 'https://acme.com:8443'],
    ['a query with an accent', 'See acme.com/search?q=café', 'https://acme.com/search?q=caf%C3%A9'],
    ['a query with a bare percent sign', 'Deals at acme.com/deals?off=50%', 'https://acme.com/deals?off=50%'],
  ])('with %s the user wrote is stored', async (_, content, stored) => {
    expect(await collected(stored, content)).toEqual({ website: stored });
  });
});
