// Built-in chatbot templates (§5, §12): `{"template": "company-onboarding", "name": …}` makes the
// seed's onboarding bot, which gathers a company's details and products in Traditional Chinese.
import type { Collect } from './collect-schema.js';

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
  greeting: '您好！我會協助您完成公司資料登錄，過程大約需要幾分鐘。',
  collect: {
    fields: [
      { key: 'company_name', label: '公司名稱', type: 'string', required: true },
      { key: 'industry', label: '產業類別', type: 'string', required: true },
      { key: 'company_size', label: '員工人數', type: 'number', required: true, description: 'The number of employees' },
      { key: 'country', label: '國家', type: 'string', required: true },
      { key: 'contact_name', label: '聯絡人姓名', type: 'string', required: true },
      { key: 'contact_email', label: '聯絡人電子郵件', type: 'email', required: true },
      { key: 'website', label: '公司網站', type: 'url', required: false },
      {
        key: 'products',
        label: '產品',
        type: 'list',
        required: true,
        description: "The company's products, one at a time",
        item_fields: [
          { key: 'name', label: '產品名稱', type: 'string', required: true },
          { key: 'description', label: '產品描述', type: 'string', required: false },
          { key: 'price', label: '價格', type: 'number', required: false },
        ],
      },
    ],
    completion_message: '感謝您！公司資料已完整登錄。',
  },
};

export const TEMPLATES: Record<TemplateName, Template> = { 'company-onboarding': companyOnboarding };
