// In a CSV export a field never collected is an empty cell, as a spreadsheet user expects. A field
// collected as an empty string would look the same, so it must not be collectable: a model that
// extracts "" or spaces for a field (models often do for what the user did not say) stores
// nothing, and never blanks a value the user gave before; the field stays missing. The JSON
// export's `data` then has no key for it, and the CSV cell is empty. Exports of a chatbot with no
// conversations, and several at once, are whole files too.
import { describe, expect, it } from 'vitest';
import { json } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { fakeLlmStage } from '../helpers/fake-llm-stage.js';
import { parseCsv } from './csv-parse.js';

const stage = fakeLlmStage();

const COLLECT = {
  fields: [
    { key: 'company_name', label: 'Company', type: 'string', required: true },
    { key: 'contact_email', label: 'Email', type: 'email', required: true },
    { key: 'note', label: 'Note', type: 'string', required: false },
    { key: 'products', label: 'Products', type: 'list', required: false, item_fields: [{ key: 'name', label: 'Name', type: 'string', required: true }] },
  ],
};
const EVERY_KEY = { company_name: null, contact_email: null, note: null, products: null };

const exportOf = (owner: RegisteredUser, chatbotId: string, format: string) =>
  stage.t.request({ method: 'GET', url: `/v1/exports/conversations?chatbot_id=${chatbotId}&format=${format}`, headers: bearer(owner.accessToken) });

async function say(owner: RegisteredUser, conversationId: string, content: string, extraction: Record<string, unknown>) {
  stage.fake.setExtraction(() => ({ ...EVERY_KEY, ...extraction }));
  const sent = await sendMessage(stage.t, owner, conversationId, { content });
  expect(sent.statusCode, sent.body).toBe(201);
}

describe('a field a model extracts as an empty string', () => {
  it('is not collected, blanks nothing collected before, and is an empty cell in the CSV export', async () => {
    const owner = await registerUser(stage.t);
    const bot = await createChatbot(stage.t, owner, { name: 'Leads', collect: COLLECT });
    const conversation = await createConversation(stage.t, owner, { chatbot_id: bot.id });
    await say(owner, conversation.id, 'We are Contoso.', { company_name: 'Contoso', contact_email: '', note: '   ', products: [{ name: '' }] });
    await say(owner, conversation.id, 'Nothing else to add for now.', { company_name: '', note: '' });

    const collected = json(await stage.t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/data`, headers: bearer(owner.accessToken) }));
    expect(collected).toEqual({ data: { company_name: 'Contoso' }, missing: ['contact_email'], completed: false });
    const documents = JSON.parse((await exportOf(owner, bot.id, 'json')).body);
    expect(documents[0].data).toEqual({ company_name: 'Contoso' });

    const rows = parseCsv((await exportOf(owner, bot.id, 'csv')).body.slice(1));
    expect(rows[0]!.map((cell) => cell.value)).toEqual(['conversation_id', 'status', 'created_at', 'updated_at', 'company_name', 'contact_email', 'note', 'products']);
    expect(rows[1]!.slice(4)).toEqual([
      { value: 'Contoso', quoted: false },
      { value: '', quoted: false },
      { value: '', quoted: false },
      { value: '', quoted: false },
    ]);
  });
});

describe('exports of a chatbot with no conversations', () => {
  it('are an empty array, no lines, and a CSV header alone', async () => {
    const owner = await registerUser(stage.t);
    const bot = await createChatbot(stage.t, owner, { name: 'Quiet', collect: COLLECT });
    const [array, lines, csv] = [await exportOf(owner, bot.id, 'json'), await exportOf(owner, bot.id, 'ndjson'), await exportOf(owner, bot.id, 'csv')];
    expect([array!.statusCode, lines!.statusCode, csv!.statusCode]).toEqual([200, 200, 200]);
    expect(JSON.parse(array!.body)).toEqual([]);
    expect(lines!.body).toBe('');
    expect(csv!.body).toBe('\uFEFFconversation_id,status,created_at,updated_at,company_name,contact_email,note,products\r\n');
  });
});

describe('several exports of one chatbot at once', () => {
  it('are each the whole file, the same bytes, or past the account\'s places a clean 429', async () => {
    const owner = await registerUser(stage.t);
    const bot = await createChatbot(stage.t, owner, { name: 'Busy', collect: COLLECT });
    for (const name of ['Ünïcödé "Quoted", Ltd', '=cmd|/C calc', 'Line one\nLine two']) {
      const conversation = await createConversation(stage.t, owner, { chatbot_id: bot.id });
      await say(owner, conversation.id, `We are ${name}.`, { company_name: name });
    }
    const answers = await Promise.all(Array.from({ length: 6 }, () => exportOf(owner, bot.id, 'csv')));
    for (const refused of answers.filter((answer) => answer.statusCode !== 200)) {
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.headers['retry-after']).toBeDefined();
    }
    const files = answers.filter((answer) => answer.statusCode === 200);
    expect(files.length).toBeGreaterThanOrEqual(1);
    expect(new Set(files.map((file) => file.body)).size).toBe(1);
    const names = parseCsv(files[0]!.body.slice(1)).slice(1).map((row) => row[4]!.value);
    expect(names).toEqual(['Ünïcödé "Quoted", Ltd', "'=cmd|/C calc", 'Line one\nLine two']);
  });
});
