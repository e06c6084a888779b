// Built-in chatbot templates (§5, §12): `{"template": "company-onboarding", "name": …}` makes the
// seed's onboarding bot, which gathers a company's details and products in Traditional Chinese
// (and, with the builtin responder, in English and Bengali to those who write in them).
import type { Collect } from './collect-schema.js';
import type { CollectLang } from './collect-state.js';

/** The template's own texts, by their Chinese, in the other languages the builtin responder speaks. */
const translations = new Map<string, Record<Exclude<CollectLang, 'zh-Hant'>, string>>();

/** A text of the template as the seed's bot wrote it, with what the builtin responder says in English and Bengali. */
function said(zh: string, en: string, bn: string): string {
  translations.set(zh, { en, bn });
  return zh;
}

/**
 * A template's text in the conversation's language: an English speaker of the onboarding bot is
 * greeted and asked in English, not "What is the 公司名稱?". What an owner wrote or changed is
 * theirs and stays as written.
 */
export function inLanguage(text: string, lang: CollectLang): string {
  return lang === 'zh-Hant' ? text : (translations.get(text)?.[lang] ?? text);
}

export type TemplateName = 'company-onboarding';

export interface Template {
  description: string;
  system_prompt: string;
  greeting: string;
  collect: Collect;
}

const companyOnboarding: Template = {
  description: '協助企業完成公司資料與產品登錄的助理',
  system_prompt:
    '你是一位親切、專業的企業資料登錄助理。請用使用者的語言（預設繁體中文）一次詢問一到兩項尚未填寫的資料，' +
    '確認使用者的回答，不要替使用者編造任何資料。',
  greeting: said(
    '您好！我會協助您完成公司資料登錄，過程大約需要幾分鐘。',
    "Hello! I will help you register your company's details; it takes a few minutes.",
    'নমস্কার! আমি আপনার কোম্পানির তথ্য নিবন্ধনে সাহায্য করব, এতে কয়েক মিনিট লাগবে।',
  ),
  collect: {
    fields: [
      { key: 'company_name', label: said('公司名稱', 'company name', 'কোম্পানির নাম'), type: 'string', required: true },
      { key: 'industry', label: said('產業類別', 'industry', 'শিল্পখাত'), type: 'string', required: true },
      { key: 'company_size', label: said('員工人數', 'company size', 'কর্মীর সংখ্যা'), type: 'number', required: true, description: 'The number of employees' },
      { key: 'country', label: said('國家', 'country', 'দেশ'), type: 'string', required: true },
      { key: 'contact_name', label: said('聯絡人姓名', "contact person's name", 'যোগাযোগকারীর নাম'), type: 'string', required: true },
      { key: 'contact_email', label: said('聯絡人電子郵件', "contact person's email", 'যোগাযোগকারীর ইমেইল'), type: 'email', required: true },
      { key: 'website', label: said('公司網站', 'company website', 'কোম্পানির ওয়েবসাইট'), type: 'url', required: false },
      {
        key: 'products',
        label: said('產品', 'products', 'পণ্য'),
        type: 'list',
        required: true,
        description: "The company's products, one at a time",
        item_fields: [
          { key: 'name', label: said('產品名稱', 'product name', 'পণ্যের নাম'), type: 'string', required: true },
          { key: 'description', label: said('產品描述', 'product description', 'পণ্যের বিবরণ'), type: 'string', required: false },
          { key: 'price', label: said('價格', 'price', 'দাম'), type: 'number', required: false },
        ],
      },
    ],
    completion_message: said('感謝您！公司資料已完整登錄。', "Thank you! Your company's details are complete.", 'ধন্যবাদ! আপনার কোম্পানির তথ্য সম্পূর্ণ নিবন্ধিত হয়েছে।'),
  },
};

export const TEMPLATES: Record<TemplateName, Template> = { 'company-onboarding': companyOnboarding };
