import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, createConversation } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

// §5, §9, §12: a chatbot's `collect` is checked when it is written (a schema that could never be
// filled is refused with the field at fault), the company-onboarding template makes the seed's
// onboarding bot, and a conversation tells what it has collected and what is missing.

let t: TestApp;
let owner: RegisteredUser;

beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
});

const SIMPLE = {
  fields: [
    { key: 'company_name', label: 'Company name', type: 'string', required: true },
    { key: 'plan', label: 'Plan', type: 'enum', required: true, options: ['Free', { value: 'pro', label: 'Professional' }] },
    { key: 'seats', label: 'Seats', type: 'number' },
    { key: 'products', label: 'Products', type: 'list', required: true, item_fields: [{ key: 'name', label: 'Name', type: 'string', required: true }] },
  ],
  completion_message: 'Thanks, that is everything.',
};

const NORMALISED = {
  ...SIMPLE,
  fields: SIMPLE.fields.map((field) => ({
    ...Object.assign({ required: false }, field),
    ...('item_fields' in field ? { item_fields: field.item_fields!.map((item) => Object.assign({ required: false }, item)) } : {}),
  })),
};

const create = (body: Record<string, unknown>) => t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(owner.accessToken), payload: { name: 'Collector', ...body } });

describe('collect on create and PATCH', () => {
  it('stores a valid schema and returns it', async () => {
    const created = await create({ collect: SIMPLE });
    expect(created.statusCode, created.body).toBe(201);
    // `required` is false unless said.
    expect(created.json().collect).toEqual(NORMALISED);
    const read = await t.request({ method: 'GET', url: `/v1/chatbots/${created.json().id}`, headers: bearer(owner.accessToken) });
    expect(read.json().collect).toEqual(NORMALISED);
  });

  const field = (extra: Record<string, unknown>) => ({ key: 'x', label: 'X', type: 'string', ...extra });
  const refusals: Array<[string, unknown, string]> = [
    ['duplicate keys', { fields: [field({}), field({ label: 'Again' })] }, 'collect.fields.1.key'],
    ['an enum without options', { fields: [field({ type: 'enum' })] }, 'collect.fields.0.options'],
    ['options on a string', { fields: [field({ options: ['a'] })] }, 'collect.fields.0.options'],
    ['the same option twice', { fields: [field({ type: 'enum', options: ['Red', 'red'] })] }, 'collect.fields.0.options'],
    ['a list without item fields', { fields: [field({ type: 'list' })] }, 'collect.fields.0.item_fields'],
    ['item fields on a string', { fields: [field({ item_fields: [field({})] })] }, 'collect.fields.0.item_fields'],
    ['a list inside a list', { fields: [field({ type: 'list', item_fields: [field({ type: 'list' })] })] }, 'collect.fields.0.item_fields.0.type'],
    ['duplicate item keys', { fields: [field({ type: 'list', item_fields: [field({}), field({})] })] }, 'collect.fields.0.item_fields.1.key'],
    ['an unknown type', { fields: [field({ type: 'date' })] }, 'collect.fields.0.type'],
    ['a key that is not a column name', { fields: [field({ key: 'Company Name' })] }, 'collect.fields.0.key'],
    ['no fields', { fields: [] }, 'collect.fields'],
    ['more than 50 fields', { fields: Array.from({ length: 51 }, (_, i) => field({ key: `f${i}` })) }, 'collect.fields'],
    ['an unknown member', { fields: [field({})], extra: true }, 'collect'],
  ];

  it.each(refusals)('refuses %s with 422 naming the field, and stores nothing', async (_what, collect, path) => {
    const before = await t.count('chatbots');
    const refused = await create({ collect });
    expect(refused.statusCode, refused.body).toBe(422);
    expect(refused.json().errors.map((error: { path: string }) => error.path).join(' ')).toContain(path);
    expect(await t.count('chatbots')).toBe(before);
  });

  it('PATCH replaces or removes it, and refuses a bad one leaving the old in place', async () => {
    const bot = await createChatbot(t, owner, { name: 'Patched' });
    const patch = (collect: unknown) => t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { collect } });
    expect((await patch(SIMPLE)).json().collect).toEqual(NORMALISED);
    const refused = await patch({ fields: [{ key: 'a', label: 'A', type: 'enum' }] });
    expect(refused.statusCode).toBe(422);
    const read = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) });
    expect(read.json().collect).toEqual(NORMALISED);
    expect((await patch(null)).json().collect).toBeNull();
  });
});

describe('the company-onboarding template', () => {
  it('makes the seed’s onboarding bot with the fields of §12; what the request gives wins', async () => {
    const created = await create({ template: 'company-onboarding', name: '企業登錄', greeting: '歡迎！' });
    expect(created.statusCode, created.body).toBe(201);
    const bot = created.json();
    expect(bot.collect.fields.map((f: { key: string }) => f.key)).toEqual(['company_name', 'industry', 'company_size', 'country', 'contact_name', 'contact_email', 'website', 'products']);
    const products = bot.collect.fields.find((f: { key: string }) => f.key === 'products');
    expect(products.type).toBe('list');
    expect(products.item_fields.map((f: { key: string }) => f.key)).toEqual(['name', 'description', 'price']);
    expect(bot.collect.fields.find((f: { key: string }) => f.key === 'company_size').type).toBe('number');
    expect(bot.collect.fields.find((f: { key: string }) => f.key === 'contact_email').type).toBe('email');
    expect(bot.greeting).toBe('歡迎！');
    expect(bot.system_prompt).not.toBe('');
    expect(bot.name).toBe('企業登錄');
  });

  it('an unknown template is 422', async () => {
    expect((await create({ template: 'crm-sync' })).statusCode).toBe(422);
  });
});

describe('GET /v1/conversations/{id}/data', () => {
  it('tells what is collected and which required fields are missing, to the owner and to a key’s end user', async () => {
    const bot = await createChatbot(t, owner, { name: 'Data desk', collect: SIMPLE });
    const conversation = await createConversation(t, owner, { chatbot_id: bot.id });
    const read = async () => (await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/data`, headers: bearer(owner.accessToken) })).json();
    expect(await read()).toEqual({ data: {}, missing: ['company_name', 'plan', 'products'], completed: false });
    await t.database.sql.query(`UPDATE conversations SET data = $1::jsonb WHERE id = $2`, [JSON.stringify({ company_name: 'Acme', products: [] }), conversation.id]);
    expect(await read()).toEqual({ data: { company_name: 'Acme', products: [] }, missing: ['plan', 'products'], completed: false });

    const key = await createApiKey(t, owner, bot.id);
    const mine = await t.request({ method: 'POST', url: '/v1/conversations', headers: bearer(key.key), payload: { user: 'kim' } });
    const theirs = await t.request({ method: 'GET', url: `/v1/conversations/${mine.json().id}/data?user=kim`, headers: bearer(key.key) });
    expect(theirs.statusCode, theirs.body).toBe(200);
    expect(theirs.json().missing).toEqual(['company_name', 'plan', 'products']);
    expect((await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/data?user=kim`, headers: bearer(key.key) })).statusCode).toBe(404);
  });

  it('another user’s conversation is 404; a chatbot without collect has nothing missing', async () => {
    const plain = await createConversation(t, owner);
    const ok = await t.request({ method: 'GET', url: `/v1/conversations/${plain.id}/data`, headers: bearer(owner.accessToken) });
    expect(ok.json()).toEqual({ data: {}, missing: [], completed: false });
    const stranger = await registerUser(t);
    expect((await t.request({ method: 'GET', url: `/v1/conversations/${plain.id}/data`, headers: bearer(stranger.accessToken) })).statusCode).toBe(404);
  });
});
