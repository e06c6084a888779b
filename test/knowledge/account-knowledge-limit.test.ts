// An account's knowledge had no size limit: uploads are limited in number (30 a minute) and each
// document in length (500,000 characters), so one account of a shared server could store 15 M
// characters a minute, about 20 GB a day, until the disk was full and every tenant's writes
// failed. Now an account stores at most KNOWLEDGE_LIMIT_PER_ACCOUNT bytes (the UTF-8 of its
// documents' content over all its chatbots; 100 MB by default, 0 for no limit): an upload past it
// answers 413 saying what is used and what is allowed, and stores nothing; deleting a document or
// a chatbot frees its share; uploads racing at the cap, on one instance or two, store at most the
// cap; the knowledge list says what the account holds; another account is not held by a full one.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { migrate } from '../../src/db/migrate.js';
import { prepareAppRole } from '../../src/db/row-security.js';
import { createPasswordHasher } from '../../src/features/auth/passwords.js';
import { newId } from '../../src/lib/ids.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { createEmptyDatabase, migrationsUpTo } from '../helpers/older-schema.js';

const LIMIT = 10_000;
/** One secret, so that a token from one instance is taken by the other. */
const UPLOADS = { RATE_LIMIT_KNOWLEDGE_USER: '1000/1m', JWT_SECRET: randomBytes(48).toString('base64url') };

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ ...UPLOADS, KNOWLEDGE_LIMIT_PER_ACCOUNT: '10kb' });
});
afterAll(async () => {
  await t?.close();
});

const upload = (app: TestApp, user: RegisteredUser, chatbotId: string, title: string, content: string) =>
  app.request({ method: 'POST', url: `/v1/chatbots/${chatbotId}/knowledge`, headers: bearer(user.accessToken), payload: { title, content } });

const listing = async (app: TestApp, user: RegisteredUser, chatbotId: string) => {
  const response = await app.request({ method: 'GET', url: `/v1/chatbots/${chatbotId}/knowledge?limit=100`, headers: bearer(user.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response);
};

/** What the database holds for the account, read past row security. */
async function held(app: TestApp, userId: string) {
  const [row] = await app.database.sql.query<{ documents: string; chunks: string; bytes: string | null }>(
    `SELECT (SELECT count(*) FROM knowledge_documents WHERE user_id = $1) AS documents,
            (SELECT count(*) FROM knowledge_chunks WHERE user_id = $1) AS chunks,
            (SELECT sum(octet_length(content)) FROM knowledge_documents WHERE user_id = $1) AS bytes`,
    [userId],
  );
  return { documents: Number(row!.documents), chunks: Number(row!.chunks), bytes: Number(row!.bytes ?? 0) };
}

const ascii = (bytes: number) => 'Opening hours are nine to six. '.repeat(Math.ceil(bytes / 31)).slice(0, bytes);
/** Three bytes of UTF-8 each. */
const chinese = (chars: number) => '营业时间为每天上午九点至下午六点'.repeat(Math.ceil(chars / 16)).slice(0, chars);

function expectFull(response: Awaited<ReturnType<typeof upload>>, numbers: string[]) {
  expect(response.statusCode, response.body).toBe(413);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.headers['retry-after']).toBeUndefined();
  const problem = json(response);
  expect(problem).toMatchObject({ status: 413, code: 'payload_too_large' });
  for (const number of numbers) expect(problem.detail).toContain(number);
}

describe('KNOWLEDGE_LIMIT_PER_ACCOUNT=10kb', () => {
  it('takes documents up to the cap, counted in UTF-8 bytes, and refuses one past it with 413, storing nothing', async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Shop' });
    expect((await upload(t, owner, bot.id, 'Hours', ascii(4_000))).statusCode).toBe(201);

    const tooMuch = await upload(t, owner, bot.id, 'Prices', ascii(7_000));
    expectFull(tooMuch, ['4,000', '10,000', '7,000']);
    expect(await held(t, owner.id)).toMatchObject({ documents: 1, bytes: 4_000 });

    // 2,000 characters of Chinese are 6,000 bytes: the account is then exactly at its cap.
    expect((await upload(t, owner, bot.id, '营业时间', chinese(2_000))).statusCode).toBe(201);
    const before = await held(t, owner.id);
    expect(before).toMatchObject({ documents: 2, bytes: LIMIT });
    expectFull(await upload(t, owner, bot.id, 'One more', 'x'), ['10,000']);
    expect(await held(t, owner.id)).toEqual(before);
    const page = await listing(t, owner, bot.id);
    expect(page.data.map((doc: { title: string }) => doc.title).sort()).toEqual(['Hours', '营业时间']);
    expect(page).toMatchObject({ account_bytes: LIMIT, account_limit_bytes: LIMIT });
  });

  it('counts every chatbot of the account, and deleting a document or a chatbot frees its share', async () => {
    const owner = await registerUser(t);
    const first = await createChatbot(t, owner, { name: 'First' });
    const second = await createChatbot(t, owner, { name: 'Second' });
    expect((await upload(t, owner, first.id, 'Kept', ascii(3_000))).statusCode).toBe(201);
    const dropped = json(await upload(t, owner, first.id, 'Dropped', ascii(4_000)));
    expect((await upload(t, owner, second.id, 'Second', ascii(2_000))).statusCode).toBe(201);
    expect(await listing(t, owner, second.id)).toMatchObject({ account_bytes: 9_000, account_limit_bytes: LIMIT });
    expectFull(await upload(t, owner, second.id, 'Late', ascii(2_000)), ['9,000', '10,000']);

    const removed = await t.request({ method: 'DELETE', url: `/v1/chatbots/${first.id}/knowledge/${dropped.id}`, headers: bearer(owner.accessToken) });
    expect(removed.statusCode).toBe(204);
    expect(await listing(t, owner, second.id)).toMatchObject({ account_bytes: 5_000 });
    expect((await upload(t, owner, second.id, 'Late', ascii(2_000))).statusCode).toBe(201);
    expectFull(await upload(t, owner, second.id, 'Later', ascii(4_000)), ['7,000']);

    const gone = await t.request({ method: 'DELETE', url: `/v1/chatbots/${first.id}`, headers: bearer(owner.accessToken) });
    expect(gone.statusCode).toBe(204);
    expect(await listing(t, owner, second.id)).toMatchObject({ account_bytes: 4_000 });
    expect((await upload(t, owner, second.id, 'Later', ascii(6_000))).statusCode).toBe(201);
    expect(await held(t, owner.id)).toMatchObject({ documents: 3, bytes: LIMIT });
  });

  it('holds only the full account: another account uploads as before', async () => {
    const full = await registerUser(t);
    const other = await registerUser(t);
    const fullBot = await createChatbot(t, full, { name: 'Full' });
    const otherBot = await createChatbot(t, other, { name: 'Other' });
    expect((await upload(t, full, fullBot.id, 'All', ascii(LIMIT))).statusCode).toBe(201);
    expectFull(await upload(t, full, fullBot.id, 'More', 'x'), ['10,000']);

    expect((await upload(t, other, otherBot.id, 'Mine', ascii(8_000))).statusCode).toBe(201);
    expect(await listing(t, other, otherBot.id)).toMatchObject({ account_bytes: 8_000 });
    expect(await listing(t, full, fullBot.id)).toMatchObject({ account_bytes: LIMIT });
  });
});

describe('uploads racing at the cap, over HTTP', () => {
  // Two instances on one database, as behind a load balancer: each chunks on its own worker, so
  // their uploads reach the database at the same moment.
  let first: TestApp;
  let second: TestApp;
  let bases: string[];
  beforeAll(async () => {
    first = await createTestApp({ ...UPLOADS, KNOWLEDGE_LIMIT_PER_ACCOUNT: '300kb' }, { sharedWith: t });
    second = await createTestApp({ ...UPLOADS, KNOWLEDGE_LIMIT_PER_ACCOUNT: '300kb' }, { sharedWith: t });
    bases = [await listen(first), await listen(second)];
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it('store at most the cap: of six documents of 180 kB sent at once to two instances, one is stored', { timeout: 60_000 }, async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Racing' });
    const answers = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const response = await fetch(`${bases[i % 2]}/v1/chatbots/${bot.id}/knowledge`, {
          method: 'POST',
          headers: { ...bearer(owner.accessToken), 'content-type': 'application/json' },
          body: JSON.stringify({ title: `Racer ${i}`, content: ascii(180_000) }),
        });
        return { status: response.status, body: (await response.json()) as { code?: string } };
      }),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 413, 413, 413, 413, 413]);
    for (const answer of answers.filter((a) => a.status === 413)) expect(answer.body.code).toBe('payload_too_large');
    expect(await held(t, owner.id)).toMatchObject({ documents: 1, bytes: 180_000 });
    expect(await listing(second, owner, bot.id)).toMatchObject({ account_bytes: 180_000, account_limit_bytes: 300_000 });
  });
});

describe('the default and no limit', () => {
  // Uploading 100 MB in a test takes minutes: the account is made to hold nearly that much by
  // what its chatbot counts, as the documents it stands for would have made it.
  async function nearlyFull(app: TestApp) {
    const owner = await registerUser(app);
    const bot = await createChatbot(app, owner, { name: 'Big' });
    expect((await upload(app, owner, bot.id, 'Real', ascii(100))).statusCode).toBe(201);
    await app.database.sql.query('UPDATE chatbots SET knowledge_bytes = knowledge_bytes + 99999890 WHERE id = $1', [bot.id]);
    return { owner, bot };
  }

  it('is 100 MB: an account holding 99,999,990 bytes is refused 20 more', async () => {
    expect(loadConfig({}).knowledgeLimitPerAccount).toBe(100_000_000);
    const app = await createTestApp(UPLOADS);
    try {
      const { owner, bot } = await nearlyFull(app);
      expect(await listing(app, owner, bot.id)).toMatchObject({ account_bytes: 99_999_990, account_limit_bytes: 100_000_000 });
      expect((await upload(app, owner, bot.id, 'Ten', ascii(10))).statusCode).toBe(201);
      expectFull(await upload(app, owner, bot.id, 'Eleven', ascii(11)), ['100,000,000']);
    } finally {
      await app.close();
    }
  });

  it('0 (or off) sets no limit: the same account keeps uploading', async () => {
    expect(loadConfig({ KNOWLEDGE_LIMIT_PER_ACCOUNT: 'off' }).knowledgeLimitPerAccount).toBeNull();
    const app = await createTestApp({ ...UPLOADS, KNOWLEDGE_LIMIT_PER_ACCOUNT: '0' });
    try {
      const { owner, bot } = await nearlyFull(app);
      expect((await upload(app, owner, bot.id, 'More', ascii(5_000))).statusCode).toBe(201);
      expect(await listing(app, owner, bot.id)).toMatchObject({ account_bytes: 100_004_990, account_limit_bytes: null });
    } finally {
      await app.close();
    }
  });

  it('takes BODY_LIMIT\'s sizes and refuses anything else, naming the variable', () => {
    expect(loadConfig({ KNOWLEDGE_LIMIT_PER_ACCOUNT: '1GiB' }).knowledgeLimitPerAccount).toBe(1024 ** 3);
    expect(loadConfig({ KNOWLEDGE_LIMIT_PER_ACCOUNT: '250mb' }).knowledgeLimitPerAccount).toBe(250_000_000);
    for (const raw of ['-1', 'lots', '10 parsecs']) {
      expect(() => loadConfig({ KNOWLEDGE_LIMIT_PER_ACCOUNT: raw })).toThrow(ConfigError);
      expect(() => loadConfig({ KNOWLEDGE_LIMIT_PER_ACCOUNT: raw })).toThrow(/KNOWLEDGE_LIMIT_PER_ACCOUNT must be a size .*0 for no limit/);
    }
  });
});

describe('documents stored before the limit', () => {
  it('count once the database is migrated: the list says so and an upload past the cap is refused', { timeout: 60_000 }, async () => {
    const { database, drop } = await createEmptyDatabase();
    try {
      await migrate(database.sql, () => {}, migrationsUpTo('0034_message_context'));
      const userId = newId();
      const [first, second] = [newId(), newId()];
      const hash = await createPasswordHasher({ onOperation: () => {}, log: { warn: () => {} } }).hash('correct horse battery');
      await database.sql.query("INSERT INTO users (id, username, password_hash) VALUES ($1, 'olde', $2)", [userId, hash]);
      for (const [id, slug] of [[first, 'olde-one'], [second, 'olde-two']] as const) {
        await database.sql.query("INSERT INTO chatbots (id, user_id, name, slug, model) VALUES ($1, $2, 'Olde', $3, 'builtin')", [id, userId, slug]);
      }
      const documents: Array<[string, string]> = [[first, ascii(3_000)], [first, chinese(1_000)], [second, ascii(2_500)]];
      for (const [chatbotId, content] of documents) {
        await database.sql.query("INSERT INTO knowledge_documents (id, chatbot_id, user_id, title, content, chunk_count) VALUES ($1, $2, $3, 'Old', $4, 0)", [newId(), chatbotId, userId, content]);
      }
      await migrate(database.sql);
      await prepareAppRole(database);

      const app = await createTestApp({ ...UPLOADS, KNOWLEDGE_LIMIT_PER_ACCOUNT: '10kb' }, { database });
      try {
        const login = await app.request({ method: 'POST', url: '/v1/auth/login', payload: { username: 'olde', password: 'correct horse battery' } });
        expect(login.statusCode, login.body).toBe(200);
        const owner = { id: userId, accessToken: json(login).access_token } as RegisteredUser;
        expect(await listing(app, owner, second)).toMatchObject({ account_bytes: 8_500, account_limit_bytes: LIMIT });
        expectFull(await upload(app, owner, second, 'New', ascii(2_000)), ['8,500', '10,000', '2,000']);
        expect((await upload(app, owner, second, 'New', ascii(1_500))).statusCode).toBe(201);
      } finally {
        await app.close();
      }
      const tables = await database.sql.query<{ forced: boolean }>("SELECT relforcerowsecurity AS forced FROM pg_class WHERE oid IN ('chatbots'::regclass, 'knowledge_documents'::regclass)");
      expect(tables.map((table) => table.forced)).toEqual([true, true]);
    } finally {
      await drop();
    }
  });
});
