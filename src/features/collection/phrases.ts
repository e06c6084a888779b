// What the collector says, in the three languages it speaks (§9, §12), and how it tells which
// one the user writes. Labels and descriptions are the owner's words and are quoted as they are.
import type { CollectLang } from './collect-state.js';

/** Case, width (full-width letters and digits) and spacing forgiven. */
export const fold = (text: string): string =>
  text.normalize('NFKC').toLowerCase().replace(/[\u2018\u2019]/gu, "'").replace(/\s+/gu, ' ').trim();

/** Folded, without spaces or punctuation: "Acme, Inc." and "acme inc" agree. */
export const compact = (text: string): string => fold(text).replace(/[\s\p{P}\p{S}]+/gu, '');

const HAN = /\p{Script=Han}/gu;
// Letters only: "৫০০" is a number, which says nothing about the language it is answered in.
const BENGALI = /(?!\p{Nd})\p{Script=Bengali}/gu;

// Words of English sentences that are rarely part of a name, an address or a number, so a value
// typed in Latin letters ("Acme Ltd", "kim@acme.com") leaves a Chinese or Bengali conversation
// in its language while "we have 50 people" switches it to English.
const ENGLISH_WORDS = new Set(
  ("i i'm im we we're our ours my me you your it it's is are am was were be been have has had do does don't didn't " +
    "please what which who how why where when can could would will should thanks thank yes yeah that's there this " +
    'just also about called nothing else more').split(' '),
);
const ENGLISH_GREETINGS = new Set(['hi', 'hello', 'hey', 'hi there', 'hello there', 'good morning', 'good afternoon', 'good evening']);

/** The language a text is written in, or null when it does not say (a name, an email, a number). */
export function detectLang(text: string): CollectLang | null {
  const han = text.match(HAN)?.length ?? 0;
  const bengali = text.match(BENGALI)?.length ?? 0;
  if (han > 0 || bengali > 0) return han >= bengali ? 'zh-Hant' : 'bn';
  const words = fold(text).match(/[a-z]+(?:'[a-z]+)?/gu) ?? [];
  if (words.filter((word) => ENGLISH_WORDS.has(word)).length >= 2) return 'en';
  return ENGLISH_GREETINGS.has(words.join(' ')) ? 'en' : null;
}

/** The conversation's language after the user's text: unchanged when the text does not say. */
export const nextLang = (current: CollectLang, text: string | null): CollectLang => (text ? (detectLang(text) ?? current) : current);

/** A short answer's words, punctuation and politeness aside, to compare with word lists. */
function bareAnswer(text: string): string {
  return fold(text)
    .replace(/[\p{P}\p{S}]+/gu, ' ')
    .replace(/\b(thanks|thank you|thx|please)\b|謝謝|谢谢|ধন্যবাদ/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
}

const DONE_WORDS = new Set(
  [
    'done', 'no', 'nope', 'no more', 'none', "that's all", 'thats all', 'that is all', "that's it", 'thats it', 'that is it',
    'nothing else', 'nothing more', 'no thanks', 'finish', 'finished', 'end', 'stop', "i'm done", 'im done', "we're done",
    'all done', "no that's all", "no, that's it", 'no more items', 'nah', "that's everything", 'that is everything', 'we are done',
    'i am done', 'that will be all', "that'll be all", 'no other', 'no others',
    '完成', '沒有了', '没有了', '沒有', '没有', '沒了', '没了', '就這樣', '就这样', '就這些', '就这些', '結束', '结束', '好了', '無', '无', '不用了', '沒有其他', '沒有其他了',
    'শেষ', 'না', 'আর নেই', 'নেই', 'আর না', 'হয়ে গেছে', 'ব্যস', 'আর কিছু নেই', 'এটুকুই', 'এই পর্যন্ত',
  ].map(bareAnswer),
);

const SKIP_WORDS = new Set(
  [
    'skip', 'no', 'none', 'n/a', 'na', 'nothing', 'pass', 'nope', '-', 'not applicable',
    '跳過', '跳过', '略過', '略过', '沒有', '没有', '無', '无', '不用', '不需要', '沒', '没',
    'বাদ', 'বাদ দিন', 'নেই', 'না', 'কিছু না', 'প্রযোজ্য নয়',
  ].map(bareAnswer),
);

const DECLINES = new Set(
  [
    "i'd rather not say", 'id rather not say', "i'd rather not", 'rather not say', 'prefer not to say', "i'd prefer not to say",
    'i prefer not to say', 'no comment', "i don't want to say", 'i do not want to say', "won't say", 'not telling',
    "it's a secret", "i don't know", 'dont know', "don't know", 'not sure', 'unknown',
    '不方便透露', '不方便說', '不想說', '不想说', '保密', '不告訴你', '不知道', '不確定', '不便透露', '不願透露',
    'বলতে চাই না', 'বলব না', 'জানি না', 'গোপন', 'বলা যাবে না',
  ].map(bareAnswer),
);

/** "done", "no", "that's all" and the same in Chinese and Bengali: the user closes a list. */
export const isDoneWord = (text: string): boolean => DONE_WORDS.has(bareAnswer(text));

// Words said around a closing that change nothing of it: "that's all for now", "I think that's all".
const CLOSING_FILLERS = ['for now', 'i think', 'i guess', 'then', 'we have', 'i have', 'we ve got', 'at the moment', 'right now', 'really', 'ok', 'okay', 'so', 'well'].map(bareAnswer);
// Chinese sentence-final particles: 完成了, 就這樣吧.
const HAN_PARTICLES = /[了吧啦喔囉呢哦]+$/u;
const HAN_LABEL = /\p{Script=Han}/u;

/** The answer without the list's own name ("no more products"; 沒有其他產品了) and the fillers around a closing. */
function closingCore(text: string, listLabel: string): string {
  const label = bareAnswer(listLabel);
  let core = ` ${bareAnswer(text)} `;
  if (label && HAN_LABEL.test(label)) core = core.replaceAll(label, '');
  else if (label) for (const name of [label, label.replace(/s$/u, '')]) core = core.replaceAll(` ${name} `, ' ');
  for (const filler of CLOSING_FILLERS) core = core.replaceAll(` ${filler} `, ' ');
  return core.trim().replace(HAN_PARTICLES, '').replace(/\s+/gu, ' ');
}

/**
 * Whether an answer closes the list being gathered: a done word, or one said in more words ("No
 * more products", "nope, that's all", 沒有其他產品了). Asked "Is there another one?", people
 * answer so, and each of these was stored as an item of its own.
 */
export function closesList(text: string, listLabel: string): boolean {
  if (isDoneWord(text)) return true;
  const core = closingCore(text, listLabel);
  if (DONE_WORDS.has(core)) return true;
  // Two closings one after the other: "nope, that's all", "না, আর নেই".
  const words = core.split(' ');
  return words.some((_, at) => at > 0 && DONE_WORDS.has(words.slice(0, at).join(' ')) && DONE_WORDS.has(words.slice(at).join(' ')));
}

const YES_WORDS = new Set(
  [
    'yes', 'yeah', 'yep', 'yup', 'sure', 'ok', 'okay', 'of course', 'yes there is', 'yes there are', 'there is', 'yes please', 'yes one more',
    'one more', 'another', 'another one', 'yes another one', 'we have another', 'i have another',
    '有', '是', '是的', '對', '对', '有的', '還有', '还有', '還有一個', '还有一个', '好', '好的', '嗯', '有喔', '有啊',
    'হ্যাঁ', 'হ্যা', 'আছে', 'হ্যাঁ আছে', 'আরও আছে', 'আরো আছে', 'জি', 'জি আছে', 'আরেকটা আছে',
  ].map(bareAnswer),
);

/** "yes", "有", "হ্যাঁ": the answer to "Is there another one?" that says so without naming it. */
export const isYesWord = (text: string): boolean => YES_WORDS.has(bareAnswer(text));
/** "skip", "no", "none" and the like: the user leaves an optional field out. */
export const isSkipWord = (text: string): boolean => SKIP_WORDS.has(bareAnswer(text));
/** "I'd rather not say", "不方便透露": no value was given, whatever the field's type. */
export const isDecline = (text: string): boolean => DECLINES.has(bareAnswer(text));

export interface Reasons {
  empty: string;
  declined: string;
  tooLong: (max: number) => string;
  notText: string;
  notEmail: string;
  notPhone: string;
  needsCountryCode: string;
  notUrl: string;
  onlyHttp: string;
  notNumber: string;
  severalNumbers: string;
  tooLarge: string;
  notOption: (options: string[]) => string;
  notList: string;
  itemIncomplete: (label: string) => string;
  notStated: string;
  required: string;
  /** A list already holds as many items as one list keeps. */
  listFull: (max: number) => string;
  /** One message gave more values than its own text holds. */
  tooMuchAtOnce: string;
  /** The conversation's lists hold as much text as they may together (data-size.ts). */
  formFull: (max: number) => string;
}

export interface Phrases {
  defaultGreeting: string;
  defaultCompletion: string;
  /** Said before the next question once an answer is stored. */
  ack: string;
  ask: (label: string) => string;
  choose: (label: string, options: string[]) => string;
  /** Opens a list, before its first item's first question. */
  listStart: (label: string) => string;
  /** After the question for an optional item field. */
  skipHint: string;
  another: (summary: string | null, label: string, first: string) => string;
  listNeedsOne: (label: string) => string;
  sorry: (reason: string) => string;
  quote: (text: string) => string;
  /** Between two sentences. */
  gap: string;
  reasons: Reasons;
}

// English reads the owner's "Company name" inside a sentence as "company name"; an acronym or a
// name written with capitals inside ("URL", "LinkedIn") is left as it is.
const inline = (label: string) => (/^\p{Lu}\p{Ll}+(\s|$)/u.test(label) ? label[0]!.toLowerCase() + label.slice(1) : label);
const orList = (items: string[], or: string, comma: string) =>
  items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(comma)} ${or} ${items[items.length - 1]}`;

const en: Phrases = {
  defaultGreeting: 'Hello! I have a few questions for you.',
  defaultCompletion: 'Thank you, I have everything I need.',
  ack: 'Thanks.',
  ask: (label) => `What is the ${inline(label)}?`,
  choose: (label, options) => `Which ${inline(label)}? Please choose ${orList(options, 'or', ', ')}.`,
  listStart: (label) => `Now the ${inline(label)}, one at a time.`,
  skipHint: '(Say “skip” to leave it out.)',
  another: (summary, label, first) =>
    `${summary ? `Added ${summary}. ` : ''}Is there another one of the ${inline(label)}? Tell me its ${inline(first)}, or say “done” to finish.`,
  listNeedsOne: (label) => `At least one of the ${inline(label)} is needed.`,
  sorry: (reason) => `Sorry, ${reason}.`,
  quote: (text) => `“${text}”`,
  gap: ' ',
  reasons: {
    empty: 'the answer is empty',
    declined: 'no value was given',
    tooLong: (max) => `that is too long (at most ${max} characters)`,
    notText: 'that is not text',
    notEmail: 'that is not an email address',
    notPhone: 'that is not a phone number',
    needsCountryCode: 'the phone number needs its country code (for example +1 …)',
    notUrl: 'that is not a web address',
    onlyHttp: 'only http and https web addresses are accepted',
    notNumber: 'there is no number in that answer',
    severalNumbers: 'please give a single number',
    tooLarge: 'that number is too large',
    notOption: (options) => `please choose ${orList(options, 'or', ', ')}`,
    notList: 'that is not a list of items',
    itemIncomplete: (label) => `an item is missing its ${inline(label)}`,
    notStated: 'the user did not state that value',
    required: 'this one is needed',
    listFull: (max) => `the list is full (at most ${max} items)`,
    tooMuchAtOnce: 'that is more than one message holds; please send the rest in another message',
    formFull: (max) => `the form is full (its lists hold at most ${max.toLocaleString('en')} characters in all)`,
  },
};

const zhHant: Phrases = {
  defaultGreeting: '您好！想請教您幾項資料。',
  defaultCompletion: '感謝您！資料已全部收齊。',
  ack: '好的，已記下。',
  ask: (label) => `請提供${label}。`,
  choose: (label, options) => `請選擇${label}：${options.join('、')}。`,
  listStart: (label) => `接下來請逐一提供${label}。`,
  skipHint: '（沒有的話請回覆「跳過」。）',
  another: (summary, label, first) => `${summary ? `已新增${summary}。` : ''}還有其他${label}嗎？有的話請提供${first}，沒有的話請回覆「完成」。`,
  listNeedsOne: (label) => `至少需要一項${label}。`,
  sorry: (reason) => `抱歉，${reason}。`,
  quote: (text) => `「${text}」`,
  gap: '',
  reasons: {
    empty: '回答是空的',
    declined: '沒有提供資料',
    tooLong: (max) => `回答太長（最多 ${max} 字）`,
    notText: '這不是文字',
    notEmail: '這不是有效的電子郵件地址',
    notPhone: '這不是有效的電話號碼',
    needsCountryCode: '電話號碼需要國碼（例如 +886 …）',
    notUrl: '這不是有效的網址',
    onlyHttp: '只接受 http 或 https 網址',
    notNumber: '回答中沒有數字',
    severalNumbers: '請只提供一個數字',
    tooLarge: '數字太大',
    notOption: (options) => `請從以下選項中選擇：${options.join('、')}`,
    notList: '這不是項目清單',
    itemIncomplete: (label) => `有一項缺少${label}`,
    notStated: '使用者沒有說出這個值',
    required: '這一項是必填的',
    listFull: (max) => `清單已滿（最多 ${max} 項）`,
    tooMuchAtOnce: '一則訊息提供的內容太多，其餘的請分開傳送',
    formFull: (max) => `表單已滿（所有清單合計最多 ${max.toLocaleString('en')} 個字元）`,
  },
};

const bn: Phrases = {
  defaultGreeting: 'স্বাগতম! আপনার কাছে কয়েকটি তথ্য জানতে চাই।',
  defaultCompletion: 'ধন্যবাদ! সব তথ্য পাওয়া গেছে।',
  ack: 'ধন্যবাদ।',
  ask: (label) => `অনুগ্রহ করে ${label} জানান।`,
  choose: (label, options) => `অনুগ্রহ করে ${label} বেছে নিন: ${orList(options, 'অথবা', ', ')}।`,
  listStart: (label) => `এবার ${label} একটি একটি করে জানান।`,
  skipHint: '(না থাকলে “বাদ” লিখুন।)',
  another: (summary, label, first) =>
    `${summary ? `${summary} যোগ করা হয়েছে। ` : ''}আর কোনো ${label} আছে? থাকলে তার ${first} লিখুন, না থাকলে “শেষ” লিখুন।`,
  listNeedsOne: (label) => `অন্তত একটি ${label} দরকার।`,
  sorry: (reason) => `দুঃখিত, ${reason}।`,
  quote: (text) => `“${text}”`,
  gap: ' ',
  reasons: {
    empty: 'উত্তরটি খালি',
    declined: 'কোনো তথ্য দেওয়া হয়নি',
    tooLong: (max) => `উত্তরটি অনেক লম্বা (সর্বোচ্চ ${max} অক্ষর)`,
    notText: 'এটি লেখা নয়',
    notEmail: 'এটি সঠিক ইমেইল ঠিকানা নয়',
    notPhone: 'এটি সঠিক ফোন নম্বর নয়',
    needsCountryCode: 'ফোন নম্বরে দেশের কোড দরকার (যেমন +880 …)',
    notUrl: 'এটি সঠিক ওয়েব ঠিকানা নয়',
    onlyHttp: 'শুধু http বা https ঠিকানা গ্রহণযোগ্য',
    notNumber: 'উত্তরে কোনো সংখ্যা নেই',
    severalNumbers: 'অনুগ্রহ করে একটি মাত্র সংখ্যা দিন',
    tooLarge: 'সংখ্যাটি অনেক বড়',
    notOption: (options) => `এগুলোর মধ্যে থেকে বেছে নিন: ${orList(options, 'অথবা', ', ')}`,
    notList: 'এটি তালিকা নয়',
    itemIncomplete: (label) => `একটি আইটেমে ${label} নেই`,
    notStated: 'ব্যবহারকারী এই তথ্য বলেননি',
    required: 'এই তথ্যটি আবশ্যক',
    listFull: (max) => `তালিকাটি পূর্ণ (সর্বোচ্চ ${max}টি আইটেম)`,
    tooMuchAtOnce: 'একটি বার্তায় এত তথ্য ধরে না; বাকিটা আলাদা বার্তায় পাঠান',
    formFull: (max) => `ফর্মটি পূর্ণ (সব তালিকায় মোট সর্বোচ্চ ${max.toLocaleString('en')}টি অক্ষর)`,
  },
};

const PHRASES: Record<CollectLang, Phrases> = { en, 'zh-Hant': zhHant, bn };

export const phrases = (lang: CollectLang): Phrases => PHRASES[lang] ?? en;
