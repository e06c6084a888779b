// GET /v1/exports/conversations (§9, §12 "Exports"): the owner's conversations streamed as a
// JSON array, NDJSON or CSV, filtered by chatbot, status and creation day, each parsed back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, visitorSend } from '../helpers/public.js';
import { parseCsv, type Cell } from './csv-parse.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '1000/1m' });
});
afterAll(async () => {
  await t?.close();
});

const exportAll = (user: RegisteredUser | string, query: string) =>
  t.request({ method: 'GET', url: `/v1/exports/conversations${query}`, headers: bearer(typeof user === 'string' ? user : user.accessToken) });
const single = async (user: RegisteredUser, id: string) => json(await t.request({ method: 'GET', url: `/v1/conversations/${id}/export`, headers: bearer(user.accessToken) }));
const setData = (id: string, data: unknown) => t.database.sql.query('UPDATE conversations SET data = $1::jsonb WHERE id = $2', [JSON.stringify(data), id]);
const setCreated = (id: string, at: string) => t.database.sql.query('UPDATE conversations SET created_at = $1::timestamptz WHERE id = $2', [at, id]);
const ndjson = (body: string) => {
  expect(body.endsWith('\n')).toBe(true);
  return body.length === 0 ? [] : body.slice(0, -1).split('\n').map((line) => JSON.parse(line));
};
const ids = (documents: Array<{ conversation: { id: string } }>) => documents.map((document) => document.conversation.id);

const COLLECT = {
  fields: [
    { key: 'company_name', label: '公司名稱', type: 'string', required: true },
    { key: 'company_size', label: 'Size', type: 'number', required: true },
    { key: 'balance', label: 'Balance', type: 'number', required: false },
    { key: 'note', label: 'Note', type: 'string', required: false },
    { key: 'products', label: 'Products', type: 'list', required: false, item_fields: [{ key: 'name', label: 'Name', type: 'string' }] },
  ],
  completion_message: 'Thanks!',
};

describe('bulk export', () => {
  let owner: RegisteredUser;
  let chatbot: { id: string; slug: string };
  let other: { id: string };
  const c: string[] = [];
  let elsewhere: string;
  let visitorConversation: string;

  beforeAll(async () => {
    owner = await registerUser(t);
    chatbot = await createChatbot(t, owner, { is_public: true });
    other = await createChatbot(t, owner);
    await t.database.sql.query('UPDATE chatbots SET collect = $1::jsonb WHERE id = $2', [JSON.stringify(COLLECT), chatbot.id]);
    for (let i = 0; i < 4; i++) c.push((await createConversation(t, owner, { chatbot_id: chatbot.id, title: `c${i}` })).id);
    const sent = await sendMessage(t, owner, c[0]!, { content: '我們是台積電' });
    const reply = json(sent).reply;
    await t.request({ method: 'PUT', url: `/v1/messages/${reply.id}/feedback`, headers: bearer(owner.accessToken), payload: { rating: 'dislike', comment: '不對' } });
    await t.request({ method: 'PATCH', url: `/v1/conversations/${c[1]}`, headers: bearer(owner.accessToken), payload: { status: 'completed' } });
    await setData(c[0]!, { company_name: '台灣積體電路', company_size: 50, balance: -5, note: '=HYPERLINK("http://x")', products: [{ name: 'Chip, "A"', price: 9.5 }] });
    await setData(c[1]!, { company_name: 'বাংলাদেশ লিমিটেড', company_size: 7, balance: '-5', note: '+1 555 0100', products: [] });
    await setData(c[2]!, { company_name: '\tTabbed', company_size: 0, note: '@SUM(A1:A2)', balance: 1.25, unknown_key: 'not a column' });
    await setData(c[3]!, { note: 'line one\r\nline two', company_name: '-minus' });
    await setCreated(c[0]!, '2026-01-01T00:00:00.000Z');
    await setCreated(c[1]!, '2026-01-01T23:59:59.999Z');
    await setCreated(c[2]!, '2026-01-02T00:00:00.000Z');
    await setCreated(c[3]!, '2026-01-03T12:00:00.000Z');
    elsewhere = (await createConversation(t, owner, { chatbot_id: other.id })).id;
    await setCreated(elsewhere, '2026-01-01T06:00:00.000Z');
    // A visitor's conversation lives in the owner's tenant: it is theirs to export.
    const visit = await startVisit(t, chatbot.slug, { visitorId: 'v-1' });
    expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'visiting' })).statusCode).toBe(201);
    visitorConversation = visit.conversation_id;
    await setCreated(visitorConversation, '2026-01-04T00:00:00.000Z');
    // Another tenant's conversations never appear.
    const stranger = await registerUser(t);
    await createConversation(t, stranger);
  });

  it('answers a JSON array of the same documents the single export answers, oldest first, by default', async () => {
    const response = await exportAll(owner, `?chatbot_id=${chatbot.id}`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const documents = JSON.parse(response.body);
    expect(Array.isArray(documents)).toBe(true);
    expect(ids(documents)).toEqual([...c, visitorConversation]);
    for (const document of documents) expect(document).toEqual(await single(owner, document.conversation.id));
    expect(documents[0].messages[1].feedback).toEqual({ rating: 'dislike', comment: '不對' });
    expect(documents[0].data.company_name).toBe('台灣積體電路');
    expect(documents[4].messages[0].content).toBe('visiting');
  });

  it('streams NDJSON, one document per line', async () => {
    const response = await exportAll(owner, `?chatbot_id=${chatbot.id}&format=ndjson`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const documents = ndjson(response.body);
    expect(ids(documents)).toEqual([...c, visitorConversation]);
    expect(documents[1]).toEqual(await single(owner, c[1]!));
  });

  it('exports every chatbot of the owner without chatbot_id, and nothing of another tenant', async () => {
    const documents = JSON.parse((await exportAll(owner, '')).body);
    expect(ids(documents).sort()).toEqual([...c, visitorConversation, elsewhere].sort());
    const stranger = await registerUser(t);
    expect(JSON.parse((await exportAll(stranger, '')).body)).toEqual([]);
    expect((await exportAll(stranger, '?format=ndjson')).body).toBe('');
    const strangers = await exportAll(stranger, `?chatbot_id=${chatbot.id}`);
    expect(strangers.statusCode).toBe(404);
    expect(json(strangers).code).toBe('not_found');
  });

  it('filters by status and by creation day (UTC, both ends included)', async () => {
    const get = async (query: string) => ids(JSON.parse((await exportAll(owner, `?chatbot_id=${chatbot.id}${query}`)).body));
    expect(await get('&status=completed')).toEqual([c[1]]);
    expect(await get('&status=active')).toEqual([c[0], c[2], c[3], visitorConversation]);
    expect(await get('&from=2026-01-01&to=2026-01-01')).toEqual([c[0], c[1]]);
    expect(await get('&from=2026-01-02')).toEqual([c[2], c[3], visitorConversation]);
    expect(await get('&to=2026-01-02')).toEqual([c[0], c[1], c[2]]);
    expect(await get('&from=2026-01-02&to=2026-01-03&status=active')).toEqual([c[2], c[3]]);
    expect(await get('&from=2027-01-01')).toEqual([]);
    expect(ids(JSON.parse((await exportAll(owner, '?from=2026-01-01&to=2026-01-01')).body)).sort()).toEqual([c[0], c[1], elsewhere].sort());
  });

  it('writes CSV with a BOM, RFC 4180 quoting, one column per collected field, formulas neutralised and numbers as numbers', async () => {
    const response = await exportAll(owner, `?chatbot_id=${chatbot.id}&format=csv`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/csv/);
    expect(response.headers['content-disposition']).toMatch(/^attachment; filename="conversations-.*\.csv"$/);
    expect([...response.rawPayload.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = response.rawPayload.toString('utf8');
    expect(text.charCodeAt(0)).toBe(0xfeff);
    const rows = parseCsv(text.slice(1));
    const values = (row: Cell[]) => row.map((cell) => cell.value);
    expect(values(rows[0]!)).toEqual(['conversation_id', 'status', 'created_at', 'updated_at', 'company_name', 'company_size', 'balance', 'note', 'products']);
    expect(rows).toHaveLength(6);
    const byId = new Map(rows.slice(1).map((row) => [row[0]!.value, row]));
    const [r0, r1, r2, r3, rv] = [...c, visitorConversation].map((id) => byId.get(id)!);
    const documents = JSON.parse((await exportAll(owner, `?chatbot_id=${chatbot.id}`)).body);
    expect(rows.slice(1).map((row) => row[0]!.value)).toEqual(ids(documents));
    expect(values(r0!).slice(1, 4)).toEqual([documents[0].conversation.status, documents[0].conversation.created_at, documents[0].conversation.updated_at]);

    // Chinese and Bengali intact; a formula neutralised (and quoted, for its quotes); a list as JSON.
    expect(values(r0!).slice(4)).toEqual(['台灣積體電路', '50', '-5', `'=HYPERLINK("http://x")`, JSON.stringify([{ name: 'Chip, "A"', price: 9.5 }])]);
    expect(r0![4]!.quoted).toBe(false);
    expect(r0![7]!.quoted).toBe(true);
    expect(r0![8]!.quoted).toBe(true);
    // Numbers, negative ones included, are written bare: no quote, no prefix. A string "-5" is text and prefixed.
    for (const cell of [r0![5]!, r0![6]!, r1![5]!, r2![5]!, r2![6]!]) expect(cell.quoted).toBe(false);
    expect(r0![6]!.value).toBe('-5');
    expect(values(r1!).slice(4)).toEqual(['বাংলাদেশ লিমিটেড', '7', "'-5", "'+1 555 0100", '[]']);
    expect(values(r2!).slice(4)).toEqual(["'\tTabbed", '0', '1.25', "'@SUM(A1:A2)", '']);
    expect(values(r3!).slice(4)).toEqual(["'-minus", '', '', 'line one\r\nline two', '']);
    expect(r3![7]!.quoted).toBe(true);
    expect(values(rv!).slice(4)).toEqual(['', '', '', '', '']);
    expect(text).not.toContain('not a column');
  });

  it('writes only the fixed columns for a chatbot that collects nothing, and a header alone when nothing matches', async () => {
    const rows = parseCsv((await exportAll(owner, `?chatbot_id=${other.id}&format=csv`)).body.slice(1));
    expect(rows.map((row) => row.length)).toEqual([4, 4]);
    expect(rows[1]![0]!.value).toBe(elsewhere);
    const empty = await exportAll(owner, `?chatbot_id=${chatbot.id}&format=csv&from=2030-01-01`);
    expect(empty.statusCode).toBe(200);
    expect(empty.body).toBe('\uFEFFconversation_id,status,created_at,updated_at,company_name,company_size,balance,note,products\r\n');
  });

  it('refuses CSV without chatbot_id, bad dates and formats (422), and API keys (403)', async () => {
    const refused = async (query: string, field: string) => {
      const response = await exportAll(owner, query);
      expect(response.statusCode, query).toBe(422);
      expect(json(response).code).toBe('validation_failed');
      expect(JSON.stringify(json(response).errors)).toContain(field);
    };
    await refused('?format=csv', 'chatbot_id');
    await refused('?format=xml', 'format');
    await refused(`?chatbot_id=${chatbot.id}&from=2026-02-30`, 'from');
    await refused(`?chatbot_id=${chatbot.id}&to=yesterday`, 'to');
    await refused(`?chatbot_id=${chatbot.id}&from=2026-01-03&to=2026-01-02`, 'from');
    await refused(`?chatbot_id=${chatbot.id}&status=archived`, 'status');
    await refused('?colour=blue', 'colour');
    expect((await exportAll(owner, '?chatbot_id=not-a-uuid')).statusCode).toBe(404);
    const { key } = await createApiKey(t, owner, chatbot.id);
    expect((await exportAll(key, `?chatbot_id=${chatbot.id}`)).statusCode).toBe(403);
    expect((await t.request({ method: 'GET', url: '/v1/exports/conversations' })).statusCode).toBe(401);
  });
});

describe('bulk export of more conversations than a batch', () => {
  it('exports each of 450 conversations exactly once, in (created_at, id) order, in every format', { timeout: 60_000 }, async () => {
    const owner = await registerUser(t);
    const chatbot = await createChatbot(t, owner);
    await t.database.sql.query('UPDATE chatbots SET collect = $1::jsonb WHERE id = $2', [JSON.stringify({ fields: [{ key: 'n', label: 'N', type: 'number' }] }), chatbot.id]);
    // Three conversations share each creation time, to the microsecond (finer than a JavaScript date): the id breaks the tie.
    await t.database.sql.query(
      `INSERT INTO conversations (id, user_id, chatbot_id, title, status, created_at, updated_at, data, message_count)
       SELECT gen_random_uuid(), $1, $2, 'bulk ' || i, 'active',
              '2026-03-01T00:00:00Z'::timestamptz + (i / 3) * interval '1 second' + interval '123 microseconds',
              now(), jsonb_build_object('n', i), CASE WHEN i % 50 = 0 THEN 2 ELSE 0 END
         FROM generate_series(1, 450) AS i`,
      [owner.id, chatbot.id],
    );
    await t.database.sql.query(
      `INSERT INTO messages (id, conversation_id, user_id, role, content, tokens, created_at)
       SELECT gen_random_uuid(), c.id, c.user_id, r.role, r.role || ' of ' || c.title, 1, c.created_at
         FROM conversations c CROSS JOIN (VALUES ('user'), ('assistant')) AS r(role)
        WHERE c.chatbot_id = $1 AND c.message_count = 2`,
      [chatbot.id],
    );
    const expected = (await t.database.sql.query<{ id: string }>('SELECT id FROM conversations WHERE chatbot_id = $1 ORDER BY created_at, id', [chatbot.id])).map((row) => row.id);
    expect(expected).toHaveLength(450);

    const documents = JSON.parse((await exportAll(owner, `?chatbot_id=${chatbot.id}`)).body);
    expect(ids(documents)).toEqual(expected);
    expect(documents.filter((d: { messages: unknown[] }) => d.messages.length === 2)).toHaveLength(9);
    for (const document of documents) expect(document.messages.every((m: { content: string }) => m.content.endsWith(` of ${document.conversation.title}`))).toBe(true);
    expect(ids(ndjson((await exportAll(owner, `?chatbot_id=${chatbot.id}&format=ndjson`)).body))).toEqual(expected);
    const rows = parseCsv((await exportAll(owner, `?chatbot_id=${chatbot.id}&format=csv`)).body.slice(1));
    expect(rows.slice(1).map((row) => row[0]!.value)).toEqual(expected);
    expect(rows.slice(1).every((row) => /^[0-9]+$/.test(row[4]!.value) && !row[4]!.quoted)).toBe(true);
  });
});
