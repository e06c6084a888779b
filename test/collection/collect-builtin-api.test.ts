// Collecting with the builtin responder, through the API as a client uses it (§9, §12
// "Collecting"): seed 000's onboarding bot gathers a company's details and products in
// Traditional Chinese, one question at a time, with no model at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, parseSse, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '10000/1m' });
});
afterAll(async () => {
  await t?.close();
});

async function say(user: RegisteredUser, conversationId: string, content: string): Promise<string> {
  const response = await sendMessage(t, user, conversationId, { content });
  expect(response.statusCode, response.body).toBe(201);
  return json(response).reply.content as string;
}

const dataOf = async (user: RegisteredUser, conversationId: string) => {
  const response = await t.request({ method: 'GET', url: `/v1/conversations/${conversationId}/data`, headers: bearer(user.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response);
};

async function onboardingConversation() {
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, { template: 'company-onboarding', name: 'Acme 登錄' });
  const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
  return { owner, chatbot, conversation };
}

describe('the builtin responder collects company-onboarding in Chinese', () => {
  it('greets, asks each required field, refuses invalid answers, gathers three products and completes on 完成', async () => {
    const { owner, conversation } = await onboardingConversation();
    const id = conversation.id as string;

    const greeting = await say(owner, id, '你好');
    expect(greeting).toContain('您好！我會協助您完成公司資料登錄');
    expect(greeting).toContain('公司名稱');
    expect(await dataOf(owner, id)).toEqual({ data: {}, missing: ['company_name', 'industry', 'company_size', 'country', 'contact_name', 'contact_email', 'products'], completed: false });

    expect(await say(owner, id, 'Acme 股份有限公司')).toContain('產業類別');
    expect(await say(owner, id, '軟體服務')).toContain('員工人數');
    // Not a number: nothing stored, the same field asked again.
    expect(await say(owner, id, '我不太清楚')).toContain('員工人數');
    expect((await dataOf(owner, id)).data).not.toHaveProperty('company_size');
    expect(await say(owner, id, '大約50人')).toContain('國家');
    expect(await say(owner, id, '台灣')).toContain('聯絡人姓名');
    expect(await say(owner, id, '王小明')).toContain('聯絡人電子郵件');
    expect(await say(owner, id, 'ming at acme')).toContain('聯絡人電子郵件');
    expect((await dataOf(owner, id)).data).not.toHaveProperty('contact_email');
    expect(await say(owner, id, 'ming@acme.com.tw')).toContain('產品名稱');

    await say(owner, id, '雲端備份');
    await say(owner, id, '企業資料備份服務');
    await say(owner, id, 'NT$1,200');
    await say(owner, id, '監控系統');
    await say(owner, id, '跳過');
    await say(owner, id, '৫০০');
    await say(owner, id, '顧問服務');
    await say(owner, id, '跳過');
    await say(owner, id, '跳過');
    const before = await dataOf(owner, id);
    expect(before.completed).toBe(false);
    expect(before.missing).toEqual(['products']);

    const done = await say(owner, id, '完成');
    expect(done).toContain('感謝您！公司資料已完整登錄。');
    const collected = await dataOf(owner, id);
    expect(collected).toEqual({
      data: {
        company_name: 'Acme 股份有限公司',
        industry: '軟體服務',
        company_size: 50,
        country: '台灣',
        contact_name: '王小明',
        contact_email: 'ming@acme.com.tw',
        products: [
          { name: '雲端備份', description: '企業資料備份服務', price: 1200 },
          { name: '監控系統', price: 500 },
          { name: '顧問服務' },
        ],
      },
      missing: [],
      completed: true,
    });
    const shown = json(await t.request({ method: 'GET', url: `/v1/conversations/${id}`, headers: bearer(owner.accessToken) }));
    expect(shown.status).toBe('completed');
    // The export hands on the same data.
    const exported = json(await t.request({ method: 'GET', url: `/v1/conversations/${id}/export`, headers: bearer(owner.accessToken) }));
    expect(exported.data).toEqual(collected.data);
  });

  it('streams a collect.update event after the reply whenever the data changed, and none when it did not', async () => {
    const { owner, conversation } = await onboardingConversation();
    const id = conversation.id as string;
    const first = await sendMessage(t, owner, id, { content: '你好', stream: true });
    expect(first.statusCode).toBe(200);
    const firstEvents = parseSse(first.body).map((event) => event.event);
    expect(firstEvents).toContain('message.end');
    expect(firstEvents).not.toContain('collect.update');

    const second = await sendMessage(t, owner, id, { content: 'Acme Ltd', stream: true });
    const events = parseSse(second.body);
    const names = events.map((event) => event.event);
    expect(names.indexOf('collect.update')).toBeGreaterThan(names.indexOf('message.end'));
    const update = events.find((event) => event.event === 'collect.update')!.data;
    expect(update).toEqual({ data: { company_name: 'Acme Ltd' }, missing: ['industry', 'company_size', 'country', 'contact_name', 'contact_email', 'products'], completed: false });
    const end = events.find((event) => event.event === 'message.end')!.data;
    expect(end.reply.content).toContain('產業類別');
  });

  it('regenerating the last reply asks the same question again and changes nothing collected', async () => {
    const { owner, conversation } = await onboardingConversation();
    const id = conversation.id as string;
    await say(owner, id, '你好');
    const asked = await say(owner, id, 'Acme');
    const regenerated = await t.request({ method: 'POST', url: `/v1/conversations/${id}/regenerate`, headers: bearer(owner.accessToken) });
    expect(regenerated.statusCode, regenerated.body).toBe(201);
    expect(json(regenerated).reply.content).toContain('產業類別');
    expect(asked).toContain('產業類別');
    expect((await dataOf(owner, id)).data).toEqual({ company_name: 'Acme' });
  });

  it('a completed conversation collects nothing more and the responder answers as usual', async () => {
    const owner = await registerUser(t);
    const chatbot = await createChatbot(t, owner, {
      name: 'Newsletter',
      greeting: 'Hi! Let us sign you up.',
      collect: { fields: [{ key: 'email', label: 'email address', type: 'email', required: true }], completion_message: 'You are on the list.' },
    });
    const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
    const id = conversation.id as string;
    expect(await say(owner, id, 'hello there')).toContain('email address');
    expect(await say(owner, id, 'dana@example.org')).toContain('You are on the list.');
    expect(await dataOf(owner, id)).toEqual({ data: { email: 'dana@example.org' }, missing: [], completed: true });
    const after = await say(owner, id, 'other@example.org');
    expect(after).not.toContain('You are on the list.');
    expect((await dataOf(owner, id)).data).toEqual({ email: 'dana@example.org' });
  });
});
