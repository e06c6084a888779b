// The builtin responder's "Is there another one?" (§9, §12 "Collecting": list items are gathered
// one at a time until the user says they are done, in the conversation's language). A user
// answers that question as people answer a yes/no question: "yes" is no product's name, and
// "No more products" or "nope, that's all" closes the list as "done" does; neither is an item.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '10000/1m' });
});
afterAll(async () => {
  await t?.close();
});

interface Talk {
  owner: RegisteredUser;
  id: string;
  say(content: string): Promise<string>;
  data(): Promise<{ data: Record<string, unknown>; missing: string[]; completed: boolean }>;
}

async function onboarding(): Promise<Talk> {
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, { template: 'company-onboarding', name: 'Onboarding' });
  const id = (await createConversation(t, owner, { chatbot_id: chatbot.id })).id as string;
  return {
    owner,
    id,
    async say(content) {
      const response = await sendMessage(t, owner, id, { content });
      expect(response.statusCode, response.body).toBe(201);
      return json(response).reply.content as string;
    },
    async data() {
      const response = await t.request({ method: 'GET', url: `/v1/conversations/${id}/data`, headers: bearer(owner.accessToken) });
      expect(response.statusCode, response.body).toBe(200);
      return json(response) as never;
    },
  };
}

const ENGLISH = ['Hi there', 'Acme Corp', 'Software', '50', 'Taiwan', 'Jane Doe', 'jane@acme.com', 'Widget', 'skip', 'skip'];
const CHINESE = ['你好', 'Acme 股份有限公司', '軟體服務', '50', '台灣', '王小明', 'ming@acme.com.tw', '雲端備份', '跳過', '跳過'];
const BENGALI = ['নমস্কার', 'একমি লিমিটেড', 'সফটওয়্যার', '৫০', 'বাংলাদেশ', 'রহিম', 'rahim@acme.com.bd', 'ক্লাউড ব্যাকআপ', 'বাদ', 'বাদ'];

/** A conversation that has just been asked whether there is another product after its first. */
async function askedForAnother(answers: string[]): Promise<Talk> {
  const talk = await onboarding();
  let last = '';
  for (const answer of answers) last = await talk.say(answer);
  expect(last).toMatch(/Is there another one|還有其他|আর কোনো/u);
  return talk;
}

const productNames = async (talk: Talk) => ((await talk.data()).data.products as Array<{ name: string }> | undefined)?.map((product) => product.name);

describe('"Is there another one?" answered yes', () => {
  it.each([
    ['English', 'yes', ENGLISH, /product name/u, ['Gadget', 'skip', 'skip', 'done'], ['Widget', 'Gadget']],
    ['English', 'Yes, there is.', ENGLISH, /product name/u, ['Gadget', 'skip', 'skip', 'done'], ['Widget', 'Gadget']],
    ['Chinese', '有', CHINESE, /產品名稱/u, ['監控系統', '跳過', '跳過', '完成'], ['雲端備份', '監控系統']],
    ['Bengali', 'হ্যাঁ', BENGALI, /পণ্যের নাম/u, ['ডেটা সেবা', 'বাদ', 'বাদ', 'শেষ'], ['ক্লাউড ব্যাকআপ', 'ডেটা সেবা']],
  ])('in %s, %j asks for the next item and is no item itself', async (_language, yes, answers, question, rest, names) => {
    const talk = await askedForAnother(answers);
    const reply = await talk.say(yes);
    expect(reply).toMatch(question);
    expect(reply).not.toMatch(/description|描述|বিবরণ/u);
    for (const answer of rest) await talk.say(answer);
    expect(await productNames(talk)).toEqual(names);
    expect((await talk.data()).completed).toBe(true);
  });
});

describe('"Is there another one?" answered with a closing in other words', () => {
  it.each([
    ['English', 'No more products', ENGLISH],
    ['English', "nope, that's all", ENGLISH],
    ['English', "That's all for now, thanks!", ENGLISH],
    ['English', "I think that's all", ENGLISH],
    ['English', "that's everything", ENGLISH],
    ['English', 'We are done.', ENGLISH],
    ['Chinese', '沒有其他產品了', CHINESE],
    ['Chinese', '就這樣吧', CHINESE],
    ['Chinese', '完成了', CHINESE],
    ['Bengali', 'না, আর নেই', BENGALI],
  ])('in %s, %j closes the list and completes the conversation', async (_language, closing, answers) => {
    const talk = await askedForAnother(answers);
    await talk.say(closing);
    expect(await talk.data()).toMatchObject({ missing: [], completed: true });
    expect(await productNames(talk)).toHaveLength(1);
  });

  it('a product whose name only starts like a closing is still a product', async () => {
    const talk = await askedForAnother(ENGLISH);
    expect(await talk.say('No More Tears shampoo')).toMatch(/product description/u);
    await talk.say('skip');
    await talk.say('skip');
    await talk.say('done');
    expect(await productNames(talk)).toEqual(['Widget', 'No More Tears shampoo']);
  });
});
