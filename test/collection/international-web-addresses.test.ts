// A web address whose name is written in its own script (bücher.de, 例子.台灣, müller-bäckerei.at)
// told to a collecting chatbot that runs a model was never stored. The validator turns the name
// into its ASCII form (https://xn--bcher-kva.de) and grounding then looked for that form in the
// user's message, where the user had written the name as they know it: every such address was
// refused as "the user did not state that value", and a required website field kept being asked
// for. The builtin responder stored the same answer at once, so only model chatbots failed.
import { describe, expect, it } from 'vitest';
import { collected, collectingConversation, collectionStage, say } from './stage.js';

const COLLECT = { fields: [{ key: 'website', label: 'website', type: 'url', required: true }] };

const stage = collectionStage();

/** What a model chatbot collects when its model gives `extracted` for the user's `content`. */
async function collectedFrom(extracted: string, content: string) {
  const conversation = await collectingConversation(stage.model, COLLECT);
  stage.fake.setExtraction(() => ({ website: extracted }));
  await say(conversation, content);
  return collected(conversation);
}

describe('a web address with an international name, given by a model', () => {
  it.each([
    ['German, as the user wrote it', 'Unsere Seite ist bücher.de', 'bücher.de', 'https://xn--bcher-kva.de'],
    ['German, with the scheme', 'Our site is https://Bücher.de/über-uns', 'https://bücher.de/über-uns', 'https://xn--bcher-kva.de/%C3%BCber-uns'],
    ['Chinese', '我們的網站是 例子.台灣', '例子.台灣', 'https://xn--fsqu00a.xn--kpry57d'],
    ['in its ASCII form, as the user wrote it', 'Our site is xn--bcher-kva.de', 'https://bücher.de', 'https://xn--bcher-kva.de'],
  ])('is stored when the user wrote it (%s)', async (_, content, extracted, stored) => {
    expect(await collectedFrom(extracted, content)).toEqual({ data: { website: stored }, missing: [], completed: true });
  });

  it('is still refused when the user wrote another name', async () => {
    const answer = await collectedFrom('bücher.de', 'Our site is bucher.de');
    expect(answer.data).toEqual({});
    expect(answer.missing).toEqual(['website']);
  });
});
