import { describe, expect, it } from 'vitest';
import { builtinCollectTurn, type CollectTurn } from '../../src/features/collection/builtin-collector.js';
import { missingFields, type Collect } from '../../src/features/collection/collect-schema.js';
import type { CollectState } from '../../src/features/collection/collect-state.js';
import { TEMPLATES } from '../../src/features/collection/templates.js';

// §6.3, §9, §12 "Collecting": the builtin responder greets, asks each missing required field,
// reads each answer as the field it asked, refuses what does not validate (saying why), gathers
// list items one at a time until the user says they are done, then completes.

const ONBOARDING = TEMPLATES['company-onboarding'];

const SHOP: Collect = {
  fields: [
    { key: 'company_name', label: 'Company name', type: 'string', required: true },
    { key: 'contact_email', label: 'Contact email', type: 'email', required: true },
    { key: 'company_size', label: 'Company size', type: 'number', required: true, description: 'The number of employees' },
    { key: 'plan', label: 'Plan', type: 'enum', required: true, options: ['Free', { value: 'pro', label: 'Professional' }] },
    { key: 'phone', label: 'Phone', type: 'phone', required: false },
    {
      key: 'products',
      label: 'Products',
      type: 'list',
      required: true,
      item_fields: [
        { key: 'name', label: 'Name', type: 'string', required: true },
        { key: 'price', label: 'Price', type: 'number', required: false },
        { key: 'tier', label: 'Tier', type: 'enum', required: false, options: ['basic', 'premium'] },
      ],
    },
  ],
  completion_message: 'Thanks, that is everything.',
};

/** A conversation as the turn engine keeps it: data and state go through JSON between turns, as in the database. */
function conversation(collect: Collect, greeting: string) {
  let data: Record<string, unknown> = {};
  let state: CollectState | null = null;
  const turns: CollectTurn[] = [];
  const say = (message: string | null): CollectTurn => {
    const turn = builtinCollectTurn({ collect, data, state, message, greeting });
    data = JSON.parse(JSON.stringify(turn.data));
    state = JSON.parse(JSON.stringify(turn.state));
    turns.push(turn);
    return turn;
  };
  return { say, turns, data: () => data, state: () => state! };
}

describe('in English, with a small schema', () => {
  it('asks, refuses with a reason, gathers three products and completes on "done"', () => {
    const chat = conversation(SHOP, 'Hi! I will set up your shop.');

    const first = chat.say('Acme');
    expect(first.reply).toBe('Hi! I will set up your shop.\n\nWhat is the company name?');
    // The first message is not an answer.
    expect(first.data).toEqual({});
    expect(first).toMatchObject({ changed: false, completed: false, state: { asked: 'company_name', lang: 'en' } });

    expect(chat.say('Acme Ltd')).toMatchObject({ reply: 'Thanks. What is the contact email?', changed: true, data: { company_name: 'Acme Ltd' } });

    const badEmail = chat.say('kim at acme');
    expect(badEmail.reply).toBe('Sorry, that is not an email address. What is the contact email?');
    expect(badEmail).toMatchObject({ changed: false, data: { company_name: 'Acme Ltd' }, state: { refused: { contact_email: 'that is not an email address' } } });
    expect(badEmail.data).not.toHaveProperty('contact_email');

    const email = chat.say('It is Kim@Acme.COM');
    expect(email.reply).toBe('Thanks. What is the company size? (The number of employees)');
    expect(email.data.contact_email).toBe('Kim@acme.com');
    expect(email.state.refused).toEqual({});

    expect(chat.say('quite a few').reply).toBe('Sorry, there is no number in that answer. What is the company size? (The number of employees)');
    expect(chat.say('between 50 and 80').reply).toContain('please give a single number');
    expect(chat.data()).not.toHaveProperty('company_size');
    expect(chat.say('about 50 people').reply).toBe('Thanks. Which plan? Please choose Free or Professional.');
    expect(chat.data().company_size).toBe(50);

    expect(chat.say('Enterprise').reply).toBe('Sorry, please choose Free or Professional. Which plan? Please choose Free or Professional.');
    expect(chat.data()).not.toHaveProperty('plan');
    // The optional phone is not asked: the products come next.
    const plan = chat.say('professional');
    expect(chat.data().plan).toBe('pro');
    expect(plan.reply).toBe('Thanks. Now the products, one at a time. What is the name?');
    expect(plan.state).toMatchObject({ asked: 'products', item: { values: {}, field: 'name' } });

    expect(chat.say('Widget').reply).toBe('What is the price? (Say “skip” to leave it out.)');
    expect(chat.say('$50').reply).toBe('Which tier? Please choose basic or premium. (Say “skip” to leave it out.)');
    expect(chat.say('gold').reply).toContain('Sorry, please choose basic or premium.');
    const firstItem = chat.say('Premium');
    expect(firstItem.reply).toBe('Added “Widget”. Is there another one of the products? Tell me its name, or say “done” to finish.');
    expect(firstItem.state.item).toEqual({ values: {}, field: null });

    chat.say('Gadget');
    chat.say('1.5k');
    chat.say('skip');
    expect(chat.turns.at(-1)!.reply).toContain('Added “Gadget”.');
    chat.say('Gizmo');
    expect(chat.say('cheap').reply).toBe('Sorry, there is no number in that answer. What is the price? (Say “skip” to leave it out.)');
    chat.say('no');
    const third = chat.say('');
    expect(third.reply).toContain('Added “Gizmo”.');
    // The list is still open: nothing is complete though an item exists, and the list joins the data when closed.
    expect(third.completed).toBe(false);
    expect(missingFields(SHOP, chat.data())).toEqual(['products']);

    const done = chat.say('done');
    expect(done.reply).toBe('Thanks, that is everything.');
    expect(done).toMatchObject({ completed: true, changed: true, state: { asked: null, item: null } });
    expect(done.data).toEqual({
      company_name: 'Acme Ltd',
      contact_email: 'Kim@acme.com',
      company_size: 50,
      plan: 'pro',
      products: [{ name: 'Widget', price: 50, tier: 'premium' }, { name: 'Gadget', price: 1500 }, { name: 'Gizmo' }],
    });
    expect(missingFields(SHOP, done.data)).toEqual([]);
    expect(chat.turns.map((turn) => turn.reply).join('\n')).not.toContain('phone');
  });

  it('a required list closed with no item says one is needed; a required item field is not skipped', () => {
    const collect: Collect = { fields: [SHOP.fields[5]!] };
    const chat = conversation(collect, '');
    expect(chat.say('hello').reply).toBe('Hello! I have a few questions for you.\n\nNow the products, one at a time. What is the name?');
    expect(chat.say('done').reply).toBe('At least one of the products is needed. What is the name?');
    expect(chat.say('skip').reply).toBe('Sorry, this one is needed. What is the name?');
    expect(chat.say('').reply).toBe('At least one of the products is needed. What is the name?');
    chat.say('Widget');
    chat.say('');
    const added = chat.say('skip');
    expect(added.reply).toContain('Added “Widget”.');
    const finished = chat.say("That's all, thanks!");
    // No completion message of its own: the default one.
    expect(finished.reply).toBe('Thank you, I have everything I need.');
    expect(finished).toMatchObject({ completed: true, data: { products: [{ name: 'Widget' }] } });
  });

  it('an answer to "another?" that is not a done word is the next item’s first field', () => {
    const collect: Collect = { fields: [SHOP.fields[5]!] };
    const chat = conversation(collect, 'Hi');
    chat.say('hi');
    for (const answer of ['Widget', 'skip', 'skip']) chat.say(answer);
    expect(chat.say('Gadget').reply).toBe('What is the price? (Say “skip” to leave it out.)');
    expect(chat.state().item).toEqual({ values: { name: 'Gadget' }, field: 'price' });
  });

  it('a regenerated reply asks the current question again and reads nothing', () => {
    const chat = conversation(SHOP, 'Welcome!');
    const opening = chat.say('hi');
    expect(chat.say(null).reply).toBe(opening.reply);
    chat.say('Acme');
    const again = chat.say(null);
    expect(again).toMatchObject({ reply: 'What is the contact email?', changed: false, data: { company_name: 'Acme' } });
    expect(again.state.asked).toBe('contact_email');
  });

  it('an optional field the user never gave stays out; a malformed stored state starts over without failing', () => {
    const turn = builtinCollectTurn({ collect: SHOP, data: { company_name: 'Acme' }, state: { nonsense: true, refused: 'x', item: 7 } as unknown as CollectState, message: 'hi', greeting: 'Hi' });
    expect(turn.reply).toBe('What is the contact email?');
    expect(turn.state.asked).toBe('contact_email');
    expect(turn.data).toEqual({ company_name: 'Acme' });
  });

  it('a conversation whose data already holds every required field completes at once', () => {
    const data = { company_name: 'Acme', contact_email: 'kim@acme.com', company_size: 5, plan: 'Free', products: [{ name: 'W' }] };
    const turn = builtinCollectTurn({ collect: SHOP, data, state: null, message: 'hi', greeting: 'Hello there.' });
    expect(turn).toMatchObject({ reply: 'Hello there.\n\nThanks, that is everything.', completed: true, changed: false });
  });
});

describe('in Traditional Chinese, with the company-onboarding template', () => {
  it('greets with the template’s greeting, refuses with reasons in Chinese, gathers products and completes on 完成', () => {
    const chat = conversation(ONBOARDING.collect, ONBOARDING.greeting);
    expect(chat.say('你好').reply).toBe('您好！我會協助您完成公司資料登錄，過程大約需要幾分鐘。\n\n請提供公司名稱。');
    // A name in Latin letters keeps the conversation in Chinese.
    const name = chat.say('Acme Technology');
    expect(name.reply).toBe('好的，已記下。請提供產業類別。');
    expect(name.state.lang).toBe('zh-Hant');
    chat.say('半導體');
    expect(chat.say('很多人').reply).toBe('抱歉，回答中沒有數字。請提供員工人數。');
    expect(chat.say('約50人').reply).toBe('好的，已記下。請提供國家。');
    chat.say('台灣');
    chat.say('王小明');
    expect(chat.say('ming at acme').reply).toBe('抱歉，這不是有效的電子郵件地址。請提供聯絡人電子郵件。');
    expect(chat.state().refused).toEqual({ contact_email: '這不是有效的電子郵件地址' });
    // The optional website is not asked.
    expect(chat.say('ming@acme.com.tw').reply).toBe('好的，已記下。接下來請逐一提供產品。請提供產品名稱。');
    expect(chat.say('完成').reply).toBe('至少需要一項產品。請提供產品名稱。');
    expect(chat.say('雲端備份').reply).toBe('請提供產品描述。（沒有的話請回覆「跳過」。）');
    chat.say('企業資料備份服務');
    expect(chat.say('NT$1,200').reply).toBe('已新增「雲端備份」。還有其他產品嗎？有的話請提供產品名稱，沒有的話請回覆「完成」。');
    chat.say('監控系統');
    chat.say('跳過');
    // Bengali digits are a number, not a change of language.
    expect(chat.say('৫০০').reply).toBe('已新增「監控系統」。還有其他產品嗎？有的話請提供產品名稱，沒有的話請回覆「完成」。');
    for (const answer of ['顧問服務', '沒有', '兩百五']) chat.say(answer);
    expect(missingFields(ONBOARDING.collect, chat.data())).toEqual(['products']);
    const done = chat.say('完成');
    expect(done.reply).toBe('感謝您！公司資料已完整登錄。');
    expect(done.completed).toBe(true);
    expect(done.data).toEqual({
      company_name: 'Acme Technology',
      industry: '半導體',
      company_size: 50,
      country: '台灣',
      contact_name: '王小明',
      contact_email: 'ming@acme.com.tw',
      products: [
        { name: '雲端備份', description: '企業資料備份服務', price: 1200 },
        { name: '監控系統', price: 500 },
        { name: '顧問服務', price: 250 },
      ],
    });
  });

  it('沒有了 and 就這樣 close the list too', () => {
    for (const closing of ['沒有了', '就這樣']) {
      const state: CollectState = { asked: 'products', item: { values: {}, field: null }, items: [{ name: '手錶' }], lang: 'zh-Hant', refused: {} };
      const data = { company_name: 'A', industry: 'B', company_size: 1, country: '台灣', contact_name: 'C', contact_email: 'c@example.com' };
      const turn = builtinCollectTurn({ collect: ONBOARDING.collect, data, state, message: closing, greeting: ONBOARDING.greeting });
      expect(turn).toMatchObject({ completed: true, reply: '感謝您！公司資料已完整登錄。', data: { products: [{ name: '手錶' }] } });
    }
  });

  it('an English sentence switches the conversation to English', () => {
    const chat = conversation(ONBOARDING.collect, ONBOARDING.greeting);
    chat.say('你好');
    const english = chat.say('We are Acme, thanks');
    expect(english.state.lang).toBe('en');
    // The template's own labels are said in the conversation's language.
    expect(english.reply).toBe('Thanks. What is the industry?');
    chat.say('electronics');
    expect(chat.turns.at(-1)!.reply).toBe('Thanks. What is the company size? (The number of employees)');
  });
});

describe('the company-onboarding template in the user’s language', () => {
  it('speaks English to an English speaker, from the greeting to the completion', () => {
    const chat = conversation(ONBOARDING.collect, ONBOARDING.greeting);
    expect(chat.say('Hello, I want to register my company').reply).toBe(
      "Hello! I will help you register your company's details; it takes a few minutes.\n\nWhat is the company name?",
    );
    expect(chat.say('Acme Widgets Ltd').reply).toBe('Thanks. What is the industry?');
    expect(chat.say('Software').reply).toBe('Thanks. What is the company size? (The number of employees)');
    expect(chat.say('about 40').reply).toBe('Thanks. What is the country?');
    expect(chat.say('Ireland').reply).toBe("Thanks. What is the contact person's name?");
    expect(chat.say('Mary Byrne').reply).toBe("Thanks. What is the contact person's email?");
    expect(chat.say('mary@acme.ie').reply).toBe('Thanks. Now the products, one at a time. What is the product name?');
    chat.say('Widget');
    chat.say('skip');
    expect(chat.say('skip').reply).toBe('Added “Widget”. Is there another one of the products? Tell me its product name, or say “done” to finish.');
    const done = chat.say('done');
    expect(done.reply).toBe("Thank you! Your company's details are complete.");
    expect(done.completed).toBe(true);
    expect(done.data).toMatchObject({ company_name: 'Acme Widgets Ltd', company_size: 40, country: 'Ireland', products: [{ name: 'Widget' }] });
  });

  it('speaks Bengali to a Bengali speaker', () => {
    const chat = conversation(ONBOARDING.collect, ONBOARDING.greeting);
    expect(chat.say('নমস্কার, আমি আমার কোম্পানি নিবন্ধন করতে চাই').reply).toBe(
      'নমস্কার! আমি আপনার কোম্পানির তথ্য নিবন্ধনে সাহায্য করব, এতে কয়েক মিনিট লাগবে।\n\nঅনুগ্রহ করে কোম্পানির নাম জানান।',
    );
  });

  it('leaves what an owner wrote as written', () => {
    const collect: Collect = { fields: [{ key: 'company_name', label: '公司全名', type: 'string', required: true }] };
    const chat = conversation(collect, '歡迎光臨！');
    expect(chat.say('Hello, I want to register my company').reply).toBe('歡迎光臨！\n\nWhat is the 公司全名?');
  });
});

describe('in Bengali', () => {
  const FORM: Collect = {
    fields: [
      { key: 'company_name', label: 'কোম্পানির নাম', type: 'string', required: true },
      { key: 'company_size', label: 'কর্মীর সংখ্যা', type: 'number', required: true },
      { key: 'contact_email', label: 'ইমেইল', type: 'email', required: true },
      { key: 'products', label: 'পণ্য', type: 'list', required: true, item_fields: [{ key: 'name', label: 'পণ্যের নাম', type: 'string', required: true }, { key: 'price', label: 'দাম', type: 'number' }] },
    ],
  };

  it('asks in Bengali, reads ৫০ জন, keeps Bengali for a Latin email, and completes on শেষ', () => {
    const chat = conversation(FORM, 'স্বাগতম!');
    expect(chat.say('হ্যালো').reply).toBe('স্বাগতম!\n\nঅনুগ্রহ করে কোম্পানির নাম জানান।');
    expect(chat.say('রহিম ট্রেডার্স').reply).toBe('ধন্যবাদ। অনুগ্রহ করে কর্মীর সংখ্যা জানান।');
    expect(chat.say('অনেক').reply).toBe('দুঃখিত, উত্তরে কোনো সংখ্যা নেই। অনুগ্রহ করে কর্মীর সংখ্যা জানান।');
    expect(chat.say('৫০ জন').reply).toBe('ধন্যবাদ। অনুগ্রহ করে ইমেইল জানান।');
    expect(chat.say('rahim@').reply).toBe('দুঃখিত, এটি সঠিক ইমেইল ঠিকানা নয়। অনুগ্রহ করে ইমেইল জানান।');
    const email = chat.say('rahim@example.com.bd');
    expect(email.state.lang).toBe('bn');
    expect(email.reply).toBe('ধন্যবাদ। এবার পণ্য একটি একটি করে জানান। অনুগ্রহ করে পণ্যের নাম জানান।');
    expect(chat.say('চা').reply).toBe('অনুগ্রহ করে দাম জানান। (না থাকলে “বাদ” লিখুন।)');
    expect(chat.say('৳১২০').reply).toBe('“চা” যোগ করা হয়েছে। আর কোনো পণ্য আছে? থাকলে তার পণ্যের নাম লিখুন, না থাকলে “শেষ” লিখুন।');
    chat.say('চিনি');
    chat.say('বাদ');
    chat.say('দুধ');
    chat.say('পঞ্চাশ');
    const done = chat.say('শেষ');
    expect(done.reply).toBe('ধন্যবাদ! সব তথ্য পাওয়া গেছে।');
    expect(done.completed).toBe(true);
    expect(done.data).toEqual({
      company_name: 'রহিম ট্রেডার্স',
      company_size: 50,
      contact_email: 'rahim@example.com.bd',
      products: [{ name: 'চা', price: 120 }, { name: 'চিনি' }, { name: 'দুধ', price: 50 }],
    });
  });
});
