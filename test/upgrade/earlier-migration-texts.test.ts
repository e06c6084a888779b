// Some migrations shipped in one text and were rewritten afterwards (0004 when row security first
// shipped, 0007 and 0008 with the first profiles and public pages, 0012 with the first API keys).
// A database one of those versions made records the text it ran; the current version must still
// start on it, keep its users signed in and their data served, and leave its schema as a new
// database's.
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { migrate, pendingMigrations, type Migration } from '../../src/db/migrate.js';
import { prepareAppRole } from '../../src/db/row-security.js';
import { createPasswordHasher } from '../../src/features/auth/passwords.js';
import { newRefreshToken } from '../../src/features/auth/tokens.js';
import { displayPrefix, generateKey, hashKey } from '../../src/features/api-keys/key-format.js';
import { newId } from '../../src/lib/ids.js';
import { createTestApp, createTestDatabase, json, type TestApp } from '../helpers/app.js';
import { createEmptyDatabase, migrationsUpTo, releasedText } from '../helpers/older-schema.js';

const PASSWORD = 'correct horse battery';

interface OldData {
  refreshToken: string;
  conversationId: string;
  key: string | null;
}

/** What a user had then: an account with a session, a chatbot, a conversation of two turns, and a key when keys existed. */
async function fillAsThen(database: Database, withKey: boolean, withProfile: boolean): Promise<OldData> {
  const sql = database.sql;
  const userId = newId();
  const sessionId = newId();
  const chatbotId = newId();
  const conversationId = newId();
  const refresh = newRefreshToken();
  const passwordHash = await createPasswordHasher({ onOperation: () => {}, log: { warn: () => {} } }).hash(PASSWORD);
  const day = Date.now() - 86_400_000;
  const at = (ms: number) => new Date(day + ms).toISOString();
  await sql.query('INSERT INTO users (id, username, email, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)', [
    userId,
    'alice',
    'alice@example.com',
    passwordHash,
    at(0),
  ]);
  await sql.query('INSERT INTO sessions (id, user_id, created_at, last_refreshed_at) VALUES ($1, $2, $3, $3)', [sessionId, userId, at(0)]);
  await sql.query('INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, now(), now() + interval \'30 days\')', [
    newId(),
    sessionId,
    refresh.hash,
  ]);
  await sql.query(
    `INSERT INTO chatbots (id, user_id, name, slug, model, is_public, use_profile, created_at, updated_at)
     VALUES ($1, $2, 'Acme Support', 'acme-support', 'builtin', $3, $3, $4, $4)`,
    [chatbotId, userId, withProfile, at(1)],
  );
  if (withProfile) {
    await sql.query("INSERT INTO profiles (user_id, name, bio) VALUES ($1, 'Alice Example', 'Answers about returns')", [userId]);
  }
  await sql.query(
    `INSERT INTO conversations (id, user_id, chatbot_id, title, message_count, created_at, updated_at)
     VALUES ($1, $2, $3, 'Returns question', 4, $4, $5)`,
    [conversationId, userId, chatbotId, at(2), at(6)],
  );
  const turns = ['How do I return a product?', 'Within 30 days, with the receipt.', 'And without a receipt?', 'Then as store credit.'];
  for (const [i, content] of turns.entries()) {
    await sql.query('INSERT INTO messages (id, conversation_id, user_id, role, content, tokens, created_at) VALUES ($1, $2, $3, $4, $5, 8, $6)', [
      newId(),
      conversationId,
      userId,
      i % 2 === 0 ? 'user' : 'assistant',
      content,
      at(3 + i),
    ]);
  }
  let key: string | null = null;
  if (withKey) {
    key = generateKey();
    await sql.query("INSERT INTO api_keys (id, user_id, chatbot_id, name, prefix, hash) VALUES ($1, $2, $3, 'shop backend', $4, $5)", [
      newId(),
      userId,
      chatbotId,
      displayPrefix(key),
      hashKey(key),
    ]);
  }
  return { refreshToken: refresh.token, conversationId, key };
}

const versions: { name: string; lastId: string; texts: () => Migration[]; key: boolean; profile: boolean }[] = [
  {
    name: 'row security first shipped (0004)',
    lastId: '0004_row_security',
    texts: () => [releasedText('0004_row_security', 'first')],
    key: false,
    profile: false,
  },
  {
    name: 'profiles and public chatbot pages first shipped (0007, 0008)',
    lastId: '0008_public_read',
    texts: () => [releasedText('0007_profiles', 'first'), releasedText('0008_public_read', 'first')],
    key: false,
    profile: true,
  },
  {
    name: 'API keys first shipped (0012)',
    lastId: '0012_api_keys',
    texts: () => [releasedText('0012_api_keys', 'first')],
    key: true,
    profile: true,
  },
];

/** The policies and functions of the database's schema, as PostgreSQL prints them back. */
async function schemaShape(database: Database): Promise<string[]> {
  const policies = await database.sql.query<{ line: string }>(
    `SELECT tablename || ' ' || policyname || ' ' || cmd || ' ' || coalesce(qual, '-') || ' ' || coalesce(with_check, '-') AS line
       FROM pg_policies WHERE schemaname = current_schema()`,
  );
  const functions = await database.sql.query<{ line: string }>(
    `SELECT p.proname || ' ' || p.prosrc AS line FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()`,
  );
  return [...policies, ...functions].map((row) => row.line).sort();
}

let app: TestApp | undefined;
let drop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await app?.close();
  await drop?.();
  app = undefined;
  drop = undefined;
});

describe.each(versions)('a database made when $name', (version) => {
  it('upgrades: the same sign-in, session, conversation and key work, and the schema is current', async () => {
    const empty = await createEmptyDatabase();
    drop = empty.drop;
    const { database } = empty;
    await migrate(database.sql, () => {}, migrationsUpTo(version.lastId, version.texts()));
    const old = await fillAsThen(database, version.key, version.profile);

    const lines: string[] = [];
    await migrate(database.sql, (line) => lines.push(line));
    expect(lines.at(-1)).toMatch(/^applied \d+ migration\(s\)$/);
    expect(await pendingMigrations(database.sql)).toEqual([]);
    const fresh = await createTestDatabase();
    try {
      expect(await schemaShape(database)).toEqual(await schemaShape(fresh.database));
    } finally {
      await fresh.drop();
    }
    await prepareAppRole(database);
    app = await createTestApp({}, { database });

    expect((await app.request({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
    const login = await app.request({ method: 'POST', url: '/v1/auth/login', payload: { username: 'alice', password: PASSWORD } });
    expect(login.statusCode).toBe(200);
    const refreshed = await app.request({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: old.refreshToken } });
    expect(refreshed.statusCode).toBe(200);
    const auth = { authorization: `Bearer ${json(refreshed).access_token}` };

    const list = json(await app.request({ method: 'GET', url: '/v1/conversations', headers: auth }));
    expect(list.data.map((c: { id: string; title: string; message_count: number }) => [c.id, c.title, c.message_count])).toEqual([
      [old.conversationId, 'Returns question', 4],
    ]);
    const history = json(await app.request({ method: 'GET', url: `/v1/conversations/${old.conversationId}/messages`, headers: auth }));
    expect(history.data.map((m: { content: string }) => m.content)).toEqual([
      'How do I return a product?',
      'Within 30 days, with the receipt.',
      'And without a receipt?',
      'Then as store credit.',
    ]);
    const turn = await app.request({ method: 'POST', url: `/v1/conversations/${old.conversationId}/messages`, headers: auth, payload: { content: 'hello' } });
    expect(turn.statusCode).toBe(201);
    const after = json(await app.request({ method: 'GET', url: `/v1/conversations/${old.conversationId}`, headers: auth }));
    expect(after.message_count).toBe(6);

    if (version.profile) {
      const profile = await app.request({ method: 'GET', url: '/v1/public/profiles/alice' });
      expect(profile.statusCode).toBe(200);
      expect(json(profile).name).toBe('Alice Example');
      expect((await app.request({ method: 'GET', url: '/v1/public/chatbots/acme-support' })).statusCode).toBe(200);
    }
    if (old.key) {
      const key = { authorization: `Bearer ${old.key}` };
      const models = await app.request({ method: 'GET', url: '/v1/models', headers: key });
      expect(models.statusCode).toBe(200);
      expect(json(models).data[0].id).toBe('acme-support');
      const completion = await app.request({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: key,
        payload: { model: 'acme-support', user: 'customer-42', messages: [{ role: 'user', content: 'hello' }] },
      });
      expect(completion.statusCode).toBe(200);
    }
    // Two databases migrated from empty: on the embedded database each takes 10–20 s on a loaded 2-core machine.
  }, 120_000);
});
