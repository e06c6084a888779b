import { describe, expect, it } from 'vitest';
import type { CollectField } from '../../src/features/collection/collect-schema.js';
import type { CollectLang } from '../../src/features/collection/collect-state.js';
import { detectLang, isDoneWord, isSkipWord } from '../../src/features/collection/phrases.js';
import { isComplete, pendingFields, validateValue } from '../../src/features/collection/validators.js';
import { TEMPLATES } from '../../src/features/collection/templates.js';

// §9, §12: every value is validated by its field's type before it is stored, whether a user typed
// it or a model extracted it; a refusal says why, in the conversation's language.

const field = (type: CollectField['type'], extra: Partial<CollectField> = {}): CollectField => ({ key: 'f', label: 'Field', type, required: true, ...extra }) as CollectField;
const check = (f: CollectField, raw: unknown, data: Record<string, unknown> = {}, lang: CollectLang = 'en') => validateValue(f, raw, { data, lang });

type Case = [raw: unknown, expected: unknown];
type Refusal = [raw: unknown, reason: string | RegExp];

function table(name: string, f: CollectField, accepted: Case[], refused: Refusal[], data: Record<string, unknown> = {}) {
  describe(name, () => {
    it.each(accepted)('accepts %j as %j', (raw, expected) => {
      expect(check(f, raw, data)).toEqual({ ok: true, value: expected });
    });
    it.each(refused)('refuses %j: %s', (raw, reason) => {
      const result = check(f, raw, data);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(reason);
    });
  });
}

table(
  'string',
  field('string'),
  [
    ['  Acme Ltd  ', 'Acme Ltd'],
    ['宏達電子股份有限公司', '宏達電子股份有限公司'],
    [42, '42'],
    ['a\u0000b', 'ab'],
    ['長'.repeat(1000), '長'.repeat(1000)],
    // 1,000 code points, 2,000 UTF-16 units.
    ['😀'.repeat(1000), '😀'.repeat(1000)],
  ],
  [
    ['', 'empty'],
    ['   \n ', 'empty'],
    [null, 'empty'],
    ['x'.repeat(1001), 'too long'],
    ['長'.repeat(1001), 'at most 1000'],
    [{ name: 'Acme' }, 'not text'],
    [['Acme'], 'not text'],
    [true, 'not text'],
    ["I'd rather not say", 'no value was given'],
    ['不方便透露', 'no value was given'],
  ],
);

table(
  'email',
  field('email'),
  [
    ['kim@acme.com', 'kim@acme.com'],
    ['Kim.Lee@Acme.COM.tw', 'Kim.Lee@acme.com.tw'],
    ['  kim@acme.com. ', 'kim@acme.com'],
    ['mailto:kim@acme.com', 'kim@acme.com'],
    ['<kim@acme.com>', 'kim@acme.com'],
    ['my email is kim+sales@acme.com, thanks', 'kim+sales@acme.com'],
    ['我的信箱是chen@example.com.tw', 'chen@example.com.tw'],
    ['ｋｉｍ＠ａｃｍｅ．ｃｏｍ', 'kim@acme.com'],
  ],
  [
    ['kim@', 'not an email address'],
    ['kim at acme dot com', 'not an email address'],
    ['a@b', 'not an email address'],
    ['kim@acme.com or lee@acme.com', 'not an email address'],
    ['kim@@acme.com', 'not an email address'],
    [`${'k'.repeat(65)}@acme.com`, 'not an email address'],
    [12, 'not an email address'],
  ],
);

describe('phone', () => {
  const phone = field('phone');
  const cases: Array<[raw: string, country: string | null, expected: string]> = [
    ['0912-345-678', 'Taiwan', '+886912345678'],
    ['0912 345 678', '台灣', '+886912345678'],
    ['0912345678', '臺灣', '+886912345678'],
    ['0912345678', 'তাইওয়ান', '+886912345678'],
    ['(02) 2345-6789', 'Taipei, Taiwan', '+886223456789'],
    ['886912345678', 'Taiwan', '+886912345678'],
    ['+886 912 345 678', null, '+886912345678'],
    ['+886 (0)912 345 678', null, '+886912345678'],
    ['00886 912 345 678', null, '+886912345678'],
    ['tel:+44 20 7946 0958', null, '+442079460958'],
    ['9123 4567', 'Hong Kong', '+85291234567'],
    ['9123 4567', '香港', '+85291234567'],
    ['138 1234 5678', '中國', '+8613812345678'],
    ['138 1234 5678', 'China', '+8613812345678'],
    ['090-1234-5678', '日本', '+819012345678'],
    ['090-1234-5678', 'জাপান', '+819012345678'],
    ['8123 4567', 'Singapore', '+6581234567'],
    ['8123 4567', '新加坡', '+6581234567'],
    ['01712-345678', 'বাংলাদেশ', '+8801712345678'],
    ['01712-345678', 'Bangladesh', '+8801712345678'],
    ['98765 43210', 'India', '+919876543210'],
    ['98765 43210', 'ভারত', '+919876543210'],
    ['(415) 555-0123', 'USA', '+14155550123'],
    ['1-415-555-0123', 'United States', '+14155550123'],
    ['415.555.0123', '美國', '+14155550123'],
    ['07911 123456', 'UK', '+447911123456'],
    ['07911 123456', '英國', '+447911123456'],
    ['604-555-0199', 'Canada', '+16045550199'],
    ['604-555-0199', '加拿大', '+16045550199'],
    ['0412 345 678', 'Australia', '+61412345678'],
    ['0412 345 678', '澳洲', '+61412345678'],
    ['030 12345678', 'Deutschland', '+493012345678'],
    ['030 12345678', '德國', '+493012345678'],
    ['06 12 34 56 78', 'France', '+33612345678'],
    ['06 12 34 56 78', 'ফ্রান্স', '+33612345678'],
    ['০৯১২৩৪৫৬৭৮', 'Taiwan', '+886912345678'],
    ['my number is 0912-345-678', 'Taiwan', '+886912345678'],
  ];
  it.each(cases)('reads %s with country %s as %s', (raw, country, expected) => {
    expect(check(phone, raw, country ? { country } : {})).toEqual({ ok: true, value: expected });
  });

  it('a local number without a known country needs its country code, said in the conversation’s language', () => {
    expect(check(phone, '0912-345-678')).toEqual({ ok: false, reason: expect.stringContaining('country code') });
    expect(check(phone, '0912-345-678', { country: 'Atlantis' })).toEqual({ ok: false, reason: expect.stringContaining('country code') });
    expect(check(phone, '0912-345-678', {}, 'zh-Hant')).toEqual({ ok: false, reason: expect.stringContaining('國碼') });
    expect(check(phone, '0912-345-678', {}, 'bn')).toEqual({ ok: false, reason: expect.stringContaining('দেশের কোড') });
  });

  it.each([['call me'], ['12'], ['+1234567890123456'], ['0912-345-678 or 0922-111-222'], ['+886 12']])('refuses %s', (raw) => {
    expect(check(phone, raw, { country: 'Taiwan' })).toEqual({ ok: false, reason: 'that is not a phone number' });
  });
});

table(
  'url',
  field('url'),
  [
    ['acme.com', 'https://acme.com'],
    ['https://acme.com/', 'https://acme.com'],
    ['http://acme.com/about', 'http://acme.com/about'],
    ['HTTPS://Acme.COM/Products?id=1', 'https://acme.com/Products?id=1'],
    ['www.acme.com.tw/zh', 'https://www.acme.com.tw/zh'],
    ['acme.com:8080/x', 'https://acme.com:8080/x'],
    ['//acme.com', 'https://acme.com'],
    ['our site is acme.com.', 'https://acme.com'],
    ['網站是 https://acme.com.tw', 'https://acme.com.tw'],
  ],
  [
    ['javascript:alert(1)', 'only http and https'],
    ['JavaScript:alert(document.cookie)', 'only http and https'],
    ['data:text/html,<script>alert(1)</script>', 'only http and https'],
    ['ftp://acme.com', 'only http and https'],
    ['mailto:kim@acme.com', 'only http and https'],
    ['acme', 'not a web address'],
    ['https://user:secret@acme.com', 'not a web address'],
    ['https://', 'not a web address'],
    ['http://192.168.0.1', 'not a web address'],
    ['not a site at all', 'not a web address'],
  ],
);

table(
  'number',
  field('number'),
  [
    [50, 50],
    [12.5, 12.5],
    ['50', 50],
    ['about 50 people', 50],
    ['50人', 50],
    ['約50人', 50],
    ['大約120人', 120],
    ['৫০', 50],
    ['৫০ জন', 50],
    ['五十', 50],
    ['一百二十', 120],
    ['兩百', 200],
    ['兩百五', 250],
    ['一萬二', 12000],
    ['一百零五', 105],
    ['1,200', 1200],
    ['NT$1,200', 1200],
    ['NT$5,990', 5990],
    ['1.5k', 1500],
    ['3萬', 30000],
    ['১,২০,০০০', 120000],
    ['fifty', 50],
    ['one hundred and twenty', 120],
    ['twenty-five people', 25],
    ['পঞ্চাশ জন', 50],
    ['পাঁচ হাজার', 5000],
    ['一共50人', 50],
    ['我們有三十個員工', 30],
    ['about 50 people, yes 50', 50],
    ['-5', -5],
  ],
  [
    ['lots', 'no number'],
    ['我不太清楚', 'no number'],
    ['', 'empty'],
    ['between 50 and 80', 'a single number'],
    ['50-80', 'a single number'],
    ['50 now, 80 next year', 'a single number'],
    [Number.NaN, 'no number'],
    [Number.POSITIVE_INFINITY, 'no number'],
    [2 ** 60, 'too large'],
    [true, 'no number'],
    [{ value: 50 }, 'no number'],
    ["I'd rather not say", 'no value was given'],
  ],
);

table(
  'enum',
  field('enum', { options: ['Free', { value: 'pro', label: 'Professional' }, '中型企業'] }),
  [
    ['pro', 'pro'],
    ['PRO', 'pro'],
    ['Professional', 'pro'],
    ['  ｐｒｏｆｅｓｓｉｏｎａｌ ', 'pro'],
    ['free.', 'Free'],
    ["We're on the Professional plan", 'pro'],
    ['中型企業', '中型企業'],
    ['我們是中型企業', '中型企業'],
  ],
  [
    ['Enterprise', 'please choose Free, Professional or 中型企業'],
    ['improve', /choose/],
    ['free or pro', /choose/],
    [{}, 'not text'],
  ],
);

describe('list', () => {
  const list = field('list', {
    item_fields: [
      { key: 'name', label: 'Name', type: 'string', required: true },
      { key: 'price', label: 'Price', type: 'number', required: false },
    ],
  });
  it('validates every item by its fields', () => {
    expect(check(list, [{ name: ' Widget ', price: '$50' }, { name: 'Gadget' }])).toEqual({ ok: true, value: [{ name: 'Widget', price: 50 }, { name: 'Gadget' }] });
    expect(check(list, { name: 'Widget' })).toEqual({ ok: true, value: [{ name: 'Widget' }] });
  });
  it('refuses an item without its required field, a bad value, or something that is not a list', () => {
    expect(check(list, [{ price: 5 }])).toEqual({ ok: false, reason: 'an item is missing its name' });
    expect(check(list, [{ name: 'W', price: 'cheap' }])).toEqual({ ok: false, reason: 'Price: there is no number in that answer' });
    expect(check(list, 'Widget')).toEqual({ ok: false, reason: 'that is not a list of items' });
    expect(check(list, [42])).toEqual({ ok: false, reason: 'that is not a list of items' });
  });
});

describe('reasons in the conversation’s language', () => {
  it.each<[CollectLang, CollectField, unknown, string]>([
    ['zh-Hant', field('email'), 'kim', '這不是有效的電子郵件地址'],
    ['zh-Hant', field('number'), '很多', '回答中沒有數字'],
    ['zh-Hant', field('enum', { options: ['小', '大'] }), '中', '請從以下選項中選擇：小、大'],
    ['bn', field('email'), 'kim', 'এটি সঠিক ইমেইল ঠিকানা নয়'],
    ['bn', field('number'), 'অনেক', 'উত্তরে কোনো সংখ্যা নেই'],
    ['bn', field('url'), 'javascript:alert(1)', 'শুধু http বা https ঠিকানা গ্রহণযোগ্য'],
  ])('%s', (lang, f, raw, reason) => {
    expect(check(f, raw, {}, lang)).toEqual({ ok: false, reason });
  });
});

describe('pendingFields and isComplete', () => {
  const collect = TEMPLATES['company-onboarding'].collect;
  const full = {
    company_name: 'Acme',
    industry: '電子業',
    company_size: 50,
    country: '台灣',
    contact_name: '陳小姐',
    contact_email: 'chen@example.com.tw',
    products: [{ name: '智慧手錶' }],
  };
  it('every required field valid completes; optional ones do not matter', () => {
    expect(pendingFields(collect, full)).toEqual([]);
    expect(isComplete(collect, full)).toBe(true);
  });
  it('a missing, empty or invalid required value is still pending', () => {
    expect(pendingFields(collect, { ...full, products: [] })).toEqual(['products']);
    expect(pendingFields(collect, { ...full, company_size: 'fifty-ish' })).toEqual(['company_size']);
    expect(pendingFields(collect, { ...full, contact_email: 'chen' })).toEqual(['contact_email']);
    expect(pendingFields(collect, { ...full, products: [{ price: 5 }] })).toEqual(['products']);
    const { industry: _industry, ...withoutIndustry } = full;
    expect(isComplete(collect, withoutIndustry)).toBe(false);
  });
});

describe('the words that close a list, skip a field, and tell the language', () => {
  it.each(['done', 'Done.', 'no', "that's all", 'That’s all, thanks', 'nothing else', '完成', '沒有了', '就這樣', 'শেষ', 'না'])('"%s" closes a list', (text) => {
    expect(isDoneWord(text)).toBe(true);
  });
  it.each(['Widget', 'Nokia', 'done deal', '完成品'])('"%s" does not', (text) => {
    expect(isDoneWord(text)).toBe(false);
  });
  it.each(['skip', 'no', 'n/a', '跳過', '沒有', 'বাদ'])('"%s" skips an optional field', (text) => {
    expect(isSkipWord(text)).toBe(true);
  });
  it.each<[string, CollectLang | null]>([
    ['你好', 'zh-Hant'],
    ['大約50人', 'zh-Hant'],
    ['৫০ জন', 'bn'],
    ['৫০০', null],
    ['আমাদের কোম্পানি', 'bn'],
    ['we have about 50 people', 'en'],
    ['hello', 'en'],
    ['Acme Ltd', null],
    ['kim@acme.com', null],
    ['https://acme.com', null],
    ['50', null],
    ['The Good Food Company', null],
  ])('"%s" is written in %s', (text, lang) => {
    expect(detectLang(text)).toBe(lang);
  });
});
