// A CSV export's columns are `conversation_id, status, created_at, updated_at`, then one per
// field key of the chatbot's `collect`. A field keyed `status` (a marital or employment status)
// or `created_at` was saved, and its export's header named two columns alike:
// `conversation_id,status,created_at,updated_at,status,created_at`. A reader that goes by the
// header (Python's csv.DictReader, a spreadsheet's lookup by name) took the collected answer for
// the conversation's status and "1999" for its creation time. Such keys are refused when the
// chatbot is saved; a list's item fields are inside one JSON cell and may use them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { parseCsv } from './csv-parse.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ LLM_PROVIDER: 'builtin' });
});
afterAll(async () => {
  await t?.close();
});

const field = (key: string) => ({ key, label: 'Status', type: 'string', required: true });

describe('a collect field named like a fixed column of the CSV export', () => {
  it.each(['conversation_id', 'status', 'created_at', 'updated_at'])('%s is refused when a chatbot is created, and nothing is created', async (key) => {
    const owner = await registerUser(t);
    const before = await t.count('chatbots');
    const response = await t.request({
      method: 'POST',
      url: '/v1/chatbots',
      headers: bearer(owner.accessToken),
      payload: { name: 'Survey', collect: { fields: [{ key: 'city', label: 'City', type: 'string' }, field(key)] } },
    });
    expect(response.statusCode, response.body).toBe(422);
    expect(json(response).errors).toEqual([expect.objectContaining({ path: 'body.collect.fields.1.key' })]);
    expect(await t.count('chatbots')).toBe(before);
  });

  it('is refused when a chatbot is changed, and its collect stays as it was', async () => {
    const owner = await registerUser(t);
    const collect = { fields: [{ key: 'marital_status', label: 'Status', type: 'string', required: true }] };
    const created = json(await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(owner.accessToken), payload: { name: 'Survey', collect } }));
    const response = await t.request({ method: 'PATCH', url: `/v1/chatbots/${created.id}`, headers: bearer(owner.accessToken), payload: { collect: { fields: [field('status')] } } });
    expect(response.statusCode, response.body).toBe(422);
    const after = json(await t.request({ method: 'GET', url: `/v1/chatbots/${created.id}`, headers: bearer(owner.accessToken) }));
    expect(after.collect.fields.map((f: { key: string }) => f.key)).toEqual(['marital_status']);
  });

  it("is kept in a list's item fields, and every column of the export has a name of its own", async () => {
    const owner = await registerUser(t);
    const collect = {
      fields: [
        { key: 'company', label: 'Company', type: 'string', required: true },
        { key: 'orders', label: 'Orders', type: 'list', item_fields: [{ key: 'status', label: 'Order status', type: 'string', required: true }] },
      ],
    };
    const created = await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(owner.accessToken), payload: { name: 'Orders', collect } });
    expect(created.statusCode, created.body).toBe(201);
    const exported = await t.request({ method: 'GET', url: `/v1/exports/conversations?chatbot_id=${json(created).id}&format=csv`, headers: bearer(owner.accessToken) });
    expect(exported.statusCode).toBe(200);
    const header = parseCsv(exported.body.replace(/^\uFEFF/u, ''))[0]!.map((cell) => cell.value);
    expect(header).toEqual(['conversation_id', 'status', 'created_at', 'updated_at', 'company', 'orders']);
  });
});
