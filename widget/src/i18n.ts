// The widget's words, per language: English, Traditional Chinese and Bengali (the languages of the
// people the first deployments serve). A missing language falls back to English.
export type Locale = 'en' | 'zh-Hant' | 'bn';

export const STRINGS = {
  en: {
    open: 'Open chat',
    close: 'Close chat',
    chat: 'Chat',
    message: 'Message',
    placeholder: 'Type a message…',
    send: 'Send',
    stop: 'Stop',
    newConversation: 'New conversation',
    history: 'Earlier conversations',
    back: 'Back to the chat',
    noHistory: 'No earlier conversations yet.',
    untitled: 'Conversation',
    messages: 'Messages',
    writing: 'Writing a reply…',
    interrupted: 'Reply stopped before the end.',
    failed: 'The reply could not be written. Try again.',
    retry: 'Retry',
    offline: 'Could not reach the chat. Check your connection and retry.',
    rateLimited: 'Too many messages. You can send again {when}.',
    quota: 'This chatbot has used up its messages for now. Come back {when}.',
    later: 'later',
    notAllowed: 'This site is not allowed to use this chatbot.',
    unavailable: 'This chatbot is not available.',
    failure: 'Something went wrong. Try again.',
    busy: 'A reply is still being written in this conversation. Send again once it is there.',
    crowded: 'The chat is busy right now. Try again in a moment.',
    reply: 'Reply',
  },
  'zh-Hant': {
    open: '開啟聊天',
    close: '關閉聊天',
    chat: '聊天',
    message: '訊息',
    placeholder: '輸入訊息…',
    send: '傳送',
    stop: '停止',
    newConversation: '新對話',
    history: '先前的對話',
    back: '返回聊天',
    noHistory: '目前沒有先前的對話。',
    untitled: '對話',
    messages: '訊息',
    writing: '正在撰寫回覆…',
    interrupted: '回覆在完成前已停止。',
    failed: '無法產生回覆，請再試一次。',
    retry: '重試',
    offline: '無法連線到聊天服務，請檢查網路連線後重試。',
    rateLimited: '訊息太多了，{when}可以再傳送。',
    quota: '這個聊天機器人的訊息額度暫時用完了，請{when}再來。',
    later: '稍後',
    notAllowed: '此網站未獲准使用這個聊天機器人。',
    unavailable: '這個聊天機器人目前無法使用。',
    failure: '發生錯誤，請再試一次。',
    busy: '這段對話仍在撰寫回覆，回覆出現後再傳送。',
    crowded: '聊天目前忙碌中，請稍後再試。',
    reply: '回覆',
  },
  bn: {
    open: 'চ্যাট খুলুন',
    close: 'চ্যাট বন্ধ করুন',
    chat: 'চ্যাট',
    message: 'বার্তা',
    placeholder: 'একটি বার্তা লিখুন…',
    send: 'পাঠান',
    stop: 'থামান',
    newConversation: 'নতুন কথোপকথন',
    history: 'আগের কথোপকথন',
    back: 'চ্যাটে ফিরে যান',
    noHistory: 'এখনও আগের কোনো কথোপকথন নেই।',
    untitled: 'কথোপকথন',
    messages: 'বার্তাসমূহ',
    writing: 'উত্তর লেখা হচ্ছে…',
    interrupted: 'উত্তরটি শেষ হওয়ার আগেই থেমে গেছে।',
    failed: 'উত্তর লেখা যায়নি। আবার চেষ্টা করুন।',
    retry: 'আবার চেষ্টা করুন',
    offline: 'চ্যাটে সংযোগ করা যায়নি। আপনার সংযোগ পরীক্ষা করে আবার চেষ্টা করুন।',
    rateLimited: 'অনেক বেশি বার্তা। আপনি {when} আবার পাঠাতে পারবেন।',
    quota: 'এই চ্যাটবটের বার্তা আপাতত শেষ। {when} আবার আসুন।',
    later: 'পরে',
    notAllowed: 'এই সাইটটি এই চ্যাটবট ব্যবহারের অনুমতি পায়নি।',
    unavailable: 'এই চ্যাটবটটি উপলব্ধ নয়।',
    failure: 'কিছু ভুল হয়েছে। আবার চেষ্টা করুন।',
    busy: 'এই কথোপকথনে এখনও একটি উত্তর লেখা হচ্ছে। উত্তর এলে আবার পাঠান।',
    crowded: 'চ্যাট এখন ব্যস্ত। একটু পরে আবার চেষ্টা করুন।',
    reply: 'উত্তর',
  },
} satisfies Record<Locale, Record<string, string>>;

export type Strings = (typeof STRINGS)['en'];

/** The widget's language: `data-locale`, else the page's `lang`, else the browser's; Chinese of any script reads the Traditional catalog. */
export function pickLocale(...candidates: Array<string | null | undefined>): Locale {
  for (const candidate of candidates) {
    const tag = (candidate ?? '').toLowerCase();
    if (tag.startsWith('zh')) return 'zh-Hant';
    if (tag.startsWith('bn')) return 'bn';
    if (tag.startsWith('en')) return 'en';
  }
  return 'en';
}

/** "in 5 minutes", "5 分鐘後", "৫ মিনিটে": the wait a 429 names, in the visitor's words. */
export function inTime(locale: Locale, seconds: number | null, strings: Strings): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds <= 0) return strings.later;
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'always' });
  if (seconds < 90) return format.format(Math.ceil(seconds), 'second');
  if (seconds < 90 * 60) return format.format(Math.ceil(seconds / 60), 'minute');
  if (seconds < 36 * 3600) return format.format(Math.ceil(seconds / 3600), 'hour');
  return format.format(Math.ceil(seconds / 86400), 'day');
}
