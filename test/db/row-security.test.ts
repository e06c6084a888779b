// Row Level Security (§10): the database itself keeps users apart, whatever a query forgets.
// Raw SQL here runs as the role requests use, with no WHERE on the user, so only the
// policies stand between one user and another's rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { openDatabase, usePglite, type Access, type Database } from '../../src/db/client.js';
import { appRoleFacts, prepareAppRole, RowSecurityError, TENANT_TABLES, verifyAppRole } from '../../src/db/row-security.js';
import { createScoped, type SystemScope } from '../../src/db/scope.js';
import { createTurnsRepo } from '../../src/features/chat/turns.repo.js';
import { newId } from '../../src/lib/ids.js';
import { createTestApp, createTestDatabase, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, visitorSend } from '../helpers/public.js';
import { createPglite } from '../../src/db/pglite.js';
import { getTableColumns, getTableName, is, Table } from 'drizzle-orm';
import * as schema from '../../src/db/schema.js';

/** A Drizzle table's columns keyed by their SQL names. */
const columnsByName = (table: Table) => Object.fromEntries(Object.values(getTableColumns(table)).map((column) => [column.name, column]));

let t: TestApp;
let a: RegisteredUser;
let b: RegisteredUser;
let aConversation: string;
let bConversation: string;

/** A user with a row in every tenant table: chatbot, knowledge, conversation, messages, idempotency key, session, profile. */
async function userWithEverything(): Promise<{ user: RegisteredUser; conversation: string }> {
  const user = await registerUser(t);
  const bot = await createChatbot(t, user, { name: 'Isolated' });
  const doc = await t.request({
    method: 'POST',
    url: `/v1/chatbots/${bot.id}/knowledge`,
    headers: bearer(user.accessToken),
    payload: { title: 'Opening hours', content: 'We open at nine and close at five.' },
  });
  expect(doc.statusCode).toBe(201);
  const conversation = await createConversation(t, user, { chatbot_id: bot.id });
  const sent = await sendMessage(t, user, conversation.id, { content: 'When do you open?' }, { 'idempotency-key': `k-${user.id}` });
  expect(sent.statusCode).toBe(201);
  const profile = await t.request({ method: 'PUT', url: '/v1/profile', headers: bearer(user.accessToken), payload: { name: user.username, bio: 'Opens at nine.' } });
  expect(profile.statusCode, profile.body).toBe(200);
  // A public chatbot with a visitor who wrote: visitors' rows and their conversation are the owner's.
  const front = await createChatbot(t, user, { name: 'Front desk', is_public: true });
  const visit = await startVisit(t, front.slug, { visitorId: `visitor-of-${user.username}` });
  expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Hello from outside' })).statusCode).toBe(201);
  const key = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/keys`, headers: bearer(user.accessToken), payload: { name: 'server' } });
  expect(key.statusCode, key.body).toBe(201);
  // A webhook delivery with one attempt, as the turn's statement and the worker write them ('failed': no worker takes it).
  const delivery = newId();
  await t.database.sql.query(
    `INSERT INTO webhook_deliveries (id, user_id, chatbot_id, conversation_id, type, payload, status, next_attempt_at)
     VALUES ($1, $2, $3, $4, 'conversation.completed', '{}', 'failed', NULL)`,
    [delivery, user.id, bot.id, conversation.id],
  );
  await t.database.sql.query('INSERT INTO webhook_attempts (delivery_id, attempt, user_id, started_at, status_code, latency_ms) VALUES ($1, 1, $2, now(), 500, 10)', [delivery, user.id]);
  return { user, conversation: conversation.id };
}

/** Each table's rows as (owner user id) — refresh tokens through their session. */
const OWNER: Record<(typeof TENANT_TABLES)[number], string> = {
  users: 'SELECT id::text AS owner FROM users',
  sessions: 'SELECT user_id::text AS owner FROM sessions',
  refresh_tokens: 'SELECT s.user_id::text AS owner FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id',
  chatbots: 'SELECT user_id::text AS owner FROM chatbots',
  knowledge_documents: 'SELECT user_id::text AS owner FROM knowledge_documents',
  knowledge_chunks: 'SELECT user_id::text AS owner FROM knowledge_chunks',
  conversations: 'SELECT user_id::text AS owner FROM conversations',
  messages: 'SELECT user_id::text AS owner FROM messages',
  idempotency_keys: 'SELECT user_id::text AS owner FROM idempotency_keys',
  profiles: 'SELECT user_id::text AS owner FROM profiles',
  visitors: 'SELECT user_id::text AS owner FROM visitors',
  usage_daily: 'SELECT user_id::text AS owner FROM usage_daily',
  api_keys: 'SELECT user_id::text AS owner FROM api_keys',
  webhook_deliveries: 'SELECT user_id::text AS owner FROM webhook_deliveries',
  webhook_attempts: 'SELECT user_id::text AS owner FROM webhook_attempts',
};

/** One transaction as the app role with app.user_id (and app.scope) set by hand. */
function asApp<T>(settings: { userId?: string; scope?: string }, fn: (tx: Access) => Promise<T>): Promise<T> {
  return t.database.app.transaction(async (tx) => {
    if (settings.userId) await tx.sql.query("SELECT set_config('app.user_id', $1, true)", [settings.userId]);
    if (settings.scope) await tx.sql.query("SELECT set_config('app.scope', $1, true)", [settings.scope]);
    return fn(tx);
  });
}

async function owners(tx: Access, table: keyof typeof OWNER): Promise<string[]> {
  return (await tx.sql.query<{ owner: string }>(OWNER[table])).map((row) => row.owner);
}

// Two tenants with a row in every table: 8–30 s on a loaded two-core machine with PGlite, once
// past the 60 s default beside other work.
beforeAll(async () => {
  t = await createTestApp();
  ({ user: a, conversation: aConversation } = await userWithEverything());
  ({ user: b, conversation: bConversation } = await userWithEverything());
}, 150_000);
afterAll(async () => {
  await t?.close();
});

describe('the role requests run as', () => {
  it('is neither superuser nor BYPASSRLS nor owner, and every tenant table has row security forced', async () => {
    const facts = await appRoleFacts(t.database.app.sql);
    expect(facts.role).toBe('parley_app');
    expect(facts.superuser).toBe(false);
    expect(facts.bypass).toBe(false);
    expect(facts.owns).toBeNull();
    expect(facts.unprotected).toBeNull();
    const [owner] = await t.database.sql.query<{ role: string }>('SELECT current_user AS role');
    expect(owner!.role).not.toBe(facts.role);
  });

  it('row security is forced on exactly the tenant tables of schema.ts, no more, no fewer', async () => {
    const rows = await t.database.sql.query<{ name: string }>(
      `SELECT relname AS name FROM pg_class
        WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND relkind = 'r'
          AND relrowsecurity AND relforcerowsecurity`,
    );
    expect(rows.map((row) => row.name).sort()).toEqual([...TENANT_TABLES].sort());
  });

  it('covers every table with a user_id column, in schema.ts and in the database (a new table cannot be forgotten)', async () => {
    const declared = (Object.values(schema) as unknown[])
      .filter((value): value is Table => is(value, Table))
      .filter((table) => 'user_id' in columnsByName(table))
      .map((table) => getTableName(table));
    expect(declared).toContain('messages');
    for (const name of declared) expect(TENANT_TABLES, name).toContain(name);
    const rows = await t.database.sql.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'user_id'`,
    );
    for (const { table_name } of rows) expect(TENANT_TABLES, table_name).toContain(table_name);
  });

  it('keeps a server from starting when requests would bypass row security', async () => {
    const config = { ...loadConfig({ NODE_ENV: 'test' }), jwtSecret: 'x'.repeat(48) };
    // A database whose app handle was never switched to the app role: on PGlite the session's
    // superuser; on PostgreSQL the app pool told to use the connecting superuser.
    const unsafe: Database = process.env.TEST_DATABASE_URL
      ? await openDatabase({ url: process.env.TEST_DATABASE_URL, pgliteDir: null, poolMax: 1, appRole: 'postgres' })
      : await usePglite(createPglite(null));
    try {
      await expect(verifyAppRole(unsafe.app.sql)).rejects.toThrow(/superuser/);
      await expect(buildApp({ config, database: unsafe })).rejects.toBeInstanceOf(RowSecurityError);
    } finally {
      await unsafe.close();
    }
  });
});

describe('with app.user_id = B', () => {
  it('every tenant table shows none of A\'s rows, and B\'s own', async () => {
    await asApp({ userId: b.id }, async (tx) => {
      for (const table of TENANT_TABLES) {
        const seen = await owners(tx, table);
        expect(seen, table).not.toContain(a.id);
        expect(seen, table).toContain(b.id);
        expect(new Set(seen), table).toEqual(new Set([b.id]));
      }
    });
  });

  it('cannot change, delete or add rows of A', async () => {
    await asApp({ userId: b.id }, async (tx) => {
      expect(await tx.sql.query("UPDATE conversations SET title = 'taken' WHERE id = $1 RETURNING id", [aConversation])).toEqual([]);
      expect(await tx.sql.query('DELETE FROM messages WHERE conversation_id = $1 RETURNING id', [aConversation])).toEqual([]);
      expect(await tx.sql.query("UPDATE users SET role = 'admin' WHERE id = $1 RETURNING id", [a.id])).toEqual([]);
    });
    await expect(
      asApp({ userId: b.id }, (tx) =>
        tx.sql.query(
          `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
           VALUES (gen_random_uuid(), $1, $2, 'user', 'planted', 'complete', 1, now())`,
          [aConversation, a.id],
        ),
      ),
    ).rejects.toMatchObject({ message: expect.stringMatching(/row-level security/) });
    const [untouched] = await t.database.sql.query<{ title: string | null; n: string }>(
      'SELECT c.title, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS n FROM conversations c WHERE c.id = $1',
      [aConversation],
    );
    expect(untouched!.title).not.toBe('taken');
    expect(Number(untouched!.n)).toBe(2);
  });
});

// PostgreSQL looks for a table in the session's temporary schema first, unless the search path
// names it. The owner's functions (the slug holder here) would read a request's temporary table
// in place of the real one.
describe('a temporary table named like one the owner\'s functions read', () => {
  it('does not let a request take a slug another account holds', async () => {
    const bot = await createChatbot(t, a, { name: 'Given up' });
    const renamed = await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(a.accessToken), payload: { slug: `${bot.slug}-new` } });
    expect(renamed.statusCode, renamed.body).toBe(200);
    const taken = asApp({ userId: b.id }, async (tx) => {
      await tx.sql.exec('CREATE TEMPORARY TABLE released_slugs (slug text PRIMARY KEY, held_by uuid, released_at timestamptz) ON COMMIT DROP');
      return tx.sql.query(
        "INSERT INTO chatbots (id, user_id, name, slug, model) VALUES (gen_random_uuid(), $1, 'Taken', $2, 'builtin') RETURNING id",
        [b.id, bot.slug],
      );
    });
    await expect(taken).rejects.toMatchObject({ message: expect.stringContaining(`slug ${bot.slug} is held by the account that gave it up`) });
    const [held] = await t.database.sql.query<{ held_by: string }>('SELECT held_by::text FROM released_slugs WHERE slug = $1', [bot.slug]);
    expect(held?.held_by).toBe(a.id);
  });
});

describe('with app.user_id unset', () => {
  it('every tenant table is empty, inside a transaction or out', async () => {
    await asApp({}, async (tx) => {
      for (const table of TENANT_TABLES) expect(await owners(tx, table), table).toEqual([]);
    });
    for (const table of TENANT_TABLES) expect(await t.database.app.sql.query(OWNER[table]), table).toEqual([]);
    // The rows are there: the owner sees them.
    expect(await t.count('messages')).toBeGreaterThanOrEqual(4);
  });
});

describe('a pooled connection', () => {
  it('carries no setting from the request before it', async () => {
    // One connection, so the second use is surely the same one.
    const single: Database = process.env.TEST_DATABASE_URL
      ? await openDatabase({ url: process.env.TEST_DATABASE_URL, pgliteDir: null, poolMax: 1, searchPath: await schemaOf(t.database) })
      : t.database;
    try {
      const scoped = createScoped(single.app);
      expect((await scoped.user(a.id, (tx) => tx.sql.query(OWNER.conversations))).length).toBeGreaterThan(0);
      const after = await single.app.sql.query<{ user_id: string | null; scope: string | null }>(
        "SELECT current_setting('app.user_id', true) AS user_id, current_setting('app.scope', true) AS scope",
      );
      expect(after[0]!.user_id ?? '').toBe('');
      expect(after[0]!.scope ?? '').toBe('');
      expect(await single.app.sql.query(OWNER.conversations)).toEqual([]);

      // The chat hot path names its user inside the statement: the same holds after it.
      const turns = createTurnsRepo(single.app.sql);
      const plan = { audience: null, lock: { replyId: newId(), leaseMs: 1000 }, message: null, historyTokens: 100, historyMinRows: 0, knowledgeQuery: null, knowledgeLimit: 0 };
      expect((await turns.begin(a.id, aConversation, plan, new Date())).state).toBe('started');
      await turns.release(a.id, aConversation, plan.lock.replyId);
      expect(await single.app.sql.query(OWNER.conversations)).toEqual([]);
      // ...and it answers only for its own user.
      expect((await turns.begin(b.id, aConversation, plan, new Date())).state).toBe('missing');
    } finally {
      if (single !== t.database) await single.close();
    }
  });
});

async function schemaOf(database: Database): Promise<string> {
  const [row] = await database.sql.query<{ name: string }>('SELECT current_schema() AS name');
  return row!.name;
}

describe('scopes for paths that serve no single user', () => {
  const count = (scope: SystemScope, table: keyof typeof OWNER) => asApp({ scope }, async (tx) => (await owners(tx, table)).length);

  it('auth reads accounts and sessions but no chat content', async () => {
    expect(await count('auth', 'users')).toBeGreaterThanOrEqual(2);
    expect(await count('auth', 'refresh_tokens')).toBeGreaterThanOrEqual(2);
    for (const table of ['chatbots', 'conversations', 'messages', 'knowledge_chunks', 'idempotency_keys', 'visitors', 'usage_daily', 'api_keys'] as const) {
      expect(await count('auth', table), table).toBe(0);
    }
  });

  it('stop-poll reads conversations only; slugs reads chatbots only', async () => {
    expect(await count('stop-poll', 'conversations')).toBeGreaterThanOrEqual(2);
    expect(await count('stop-poll', 'messages')).toBe(0);
    expect(await count('stop-poll', 'users')).toBe(0);
    expect(await count('slugs', 'chatbots')).toBeGreaterThanOrEqual(2);
    expect(await count('slugs', 'messages')).toBe(0);
    expect(await count('slugs', 'users')).toBe(0);
  });

  it('admin reads everything but cannot change chat content', async () => {
    expect(await count('admin', 'messages')).toBeGreaterThanOrEqual(4);
    expect(await asApp({ scope: 'admin' }, (tx) => tx.sql.query('DELETE FROM messages WHERE conversation_id = $1 RETURNING id', [bConversation]))).toEqual([]);
    expect(await t.count('messages')).toBeGreaterThanOrEqual(4);
  });

  it('public reads public chatbots and the accounts that own one, and changes nothing', async () => {
    await t.database.sql.query('UPDATE chatbots SET is_public = true WHERE user_id = $1', [a.id]);
    await t.database.sql.query('UPDATE chatbots SET is_public = false WHERE user_id = $1', [b.id]);
    try {
      // Other tests here may leave public chatbots of their own: the owner's view says which to expect.
      const owning = await t.database.sql.query<{ owner: string }>('SELECT DISTINCT user_id::text AS owner FROM chatbots WHERE is_public');
      await asApp({ scope: 'public' }, async (tx) => {
        const bots = await tx.sql.query<{ owner: string; is_public: boolean }>('SELECT user_id::text AS owner, is_public FROM chatbots');
        expect(bots.map((bot) => bot.owner)).toContain(a.id);
        expect(bots.map((bot) => bot.owner)).not.toContain(b.id);
        expect(bots.every((bot) => bot.is_public)).toBe(true);
        expect(new Set(await owners(tx, 'users'))).toEqual(new Set(owning.map((row) => row.owner)));
      });
      for (const table of ['sessions', 'refresh_tokens', 'knowledge_documents', 'knowledge_chunks', 'messages', 'idempotency_keys', 'profiles', 'visitors', 'usage_daily'] as const) {
        expect(await count('public', table), table).toBe(0);
      }
      // Conversations: only visitors' ones on public chatbots (a preflight asks which chatbot one is on).
      const visible = await asApp({ scope: 'public' }, (tx) =>
        tx.sql.query<{ visitor_id: string | null; is_public: boolean }>(
          'SELECT c.visitor_id, (SELECT is_public FROM chatbots b WHERE b.id = c.chatbot_id) AS is_public FROM conversations c',
        ),
      );
      expect(visible.length).toBeGreaterThan(0);
      expect(visible.every((row) => row.visitor_id !== null && row.is_public)).toBe(true);
      expect(await t.database.sql.query('SELECT 1 FROM conversations WHERE id = $1', [aConversation])).toHaveLength(1);
      expect(await asApp({ scope: 'public' }, (tx) => tx.sql.query('SELECT 1 FROM conversations WHERE id = $1', [aConversation]))).toEqual([]);
      await asApp({ scope: 'public' }, async (tx) => {
        expect(await tx.sql.query("UPDATE chatbots SET system_prompt = 'taken' WHERE user_id = $1 RETURNING id", [a.id])).toEqual([]);
        expect(await tx.sql.query("UPDATE users SET role = 'admin' WHERE id = $1 RETURNING id", [a.id])).toEqual([]);
        expect(await tx.sql.query('DELETE FROM chatbots WHERE user_id = $1 RETURNING id', [a.id])).toEqual([]);
      });
      // A public chatbot is still not another user's to read through the API's own scope.
      await asApp({ userId: b.id }, async (tx) => expect(await owners(tx, 'chatbots')).not.toContain(a.id));
    } finally {
      await t.database.sql.query('UPDATE chatbots SET is_public = false WHERE user_id = $1', [a.id]);
    }
  });

  it('public-profile reads only the profiles, users and chatbots of owners who show a public chatbot using their profile', async () => {
    const shown = await registerUser(t);
    const hidden = await registerUser(t);
    for (const user of [shown, hidden]) {
      const saved = await t.request({ method: 'PUT', url: '/v1/profile', headers: bearer(user.accessToken), payload: { name: user.username } });
      expect(saved.statusCode, saved.body).toBe(200);
    }
    await createChatbot(t, shown, { name: 'Shown', is_public: true, use_profile: true });
    await createChatbot(t, shown, { name: 'Private, with profile', use_profile: true });
    await createChatbot(t, hidden, { name: 'Public, no profile', is_public: true });
    await createChatbot(t, hidden, { name: 'Private, with profile', use_profile: true });

    await asApp({ scope: 'public-profile' }, async (tx) => {
      expect(await owners(tx, 'profiles')).toEqual([shown.id]);
      expect(await owners(tx, 'users')).toEqual([shown.id]);
      const bots = await tx.sql.query<{ owner: string; is_public: boolean; use_profile: boolean }>(
        'SELECT user_id::text AS owner, is_public, use_profile FROM chatbots',
      );
      expect(bots).toEqual([{ owner: shown.id, is_public: true, use_profile: true }]);
      for (const table of ['sessions', 'refresh_tokens', 'conversations', 'messages', 'knowledge_documents', 'knowledge_chunks', 'idempotency_keys', 'visitors', 'usage_daily'] as const) {
        expect(await owners(tx, table), table).toEqual([]);
      }
      // Reading only: nothing shown can be changed.
      expect(await tx.sql.query("UPDATE profiles SET bio = 'defaced' RETURNING user_id")).toEqual([]);
      expect(await tx.sql.query("UPDATE users SET role = 'admin' RETURNING id")).toEqual([]);
      expect(await tx.sql.query('DELETE FROM profiles RETURNING user_id')).toEqual([]);
    });
    expect(await count('admin', 'profiles')).toBeGreaterThanOrEqual(4);
    expect(await count('auth', 'profiles')).toBe(0);
  });

  it("a verified visitor reads their own visits in another tenant, and nothing else of it", async () => {
    const host = await registerUser(t);
    const shopper = await registerUser(t);
    const bot = await createChatbot(t, host, { name: 'Shop help', is_public: true });
    const started = await t.request({
      method: 'POST',
      url: `/v1/public/chatbots/${bot.slug}/conversations`,
      headers: bearer(shopper.accessToken),
      payload: { visitor_id: 'widget' },
    });
    expect(started.statusCode, started.body).toBe(201);
    const visit = started.json() as { conversation_id: string; visitor_token: string };
    expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Hello' })).statusCode).toBe(201);
    // An anonymous visitor of the same chatbot, and the host's own conversation: not the shopper's.
    const anonymous = await startVisit(t, bot.slug, { visitorId: 'someone-else' });
    expect((await visitorSend(t, anonymous.visitor_token, anonymous.conversation_id, { content: 'Hi' })).statusCode).toBe(201);

    await asApp({ userId: shopper.id }, async (tx) => {
      const conversations = await tx.sql.query<{ id: string; owner: string }>('SELECT id::text, user_id::text AS owner FROM conversations WHERE user_id = $1', [host.id]);
      expect(conversations).toEqual([{ id: visit.conversation_id, owner: host.id }]);
      const messages = await tx.sql.query<{ conversation_id: string }>('SELECT conversation_id::text FROM messages WHERE user_id = $1', [host.id]);
      expect(messages.map((m) => m.conversation_id)).toEqual([visit.conversation_id, visit.conversation_id]);
      expect(await tx.sql.query('SELECT 1 FROM visitors WHERE user_id = $1', [host.id])).toHaveLength(1);
      for (const table of ['chatbots', 'knowledge_documents', 'knowledge_chunks', 'profiles', 'usage_daily', 'sessions', 'idempotency_keys'] as const) {
        expect((await owners(tx, table)).filter((owner) => owner === host.id), table).toEqual([]);
      }
      // Reading only.
      expect(await tx.sql.query("UPDATE conversations SET title = 'taken' WHERE id = $1 RETURNING id", [visit.conversation_id])).toEqual([]);
      expect(await tx.sql.query("UPDATE messages SET content = 'taken' WHERE conversation_id = $1 RETURNING id", [visit.conversation_id])).toEqual([]);
      expect(await tx.sql.query('DELETE FROM visitors WHERE user_id = $1 RETURNING id', [host.id])).toEqual([]);
    });
  });

  it('api-key finds keys (with their chatbots and owners) and writes only their last use; it reads no chat content', async () => {
    expect(await count('api-key', 'api_keys')).toBeGreaterThanOrEqual(2);
    for (const table of ['conversations', 'messages', 'knowledge_chunks', 'visitors', 'usage_daily'] as const) {
      expect(await count('api-key', table), table).toBe(0);
    }
    await asApp({ scope: 'api-key' }, async (tx) => {
      expect(await tx.sql.query('DELETE FROM api_keys RETURNING id')).toEqual([]);
      expect(await tx.sql.query("UPDATE users SET role = 'admin' RETURNING id")).toEqual([]);
      expect(await tx.sql.query("UPDATE chatbots SET system_prompt = 'taken' RETURNING id")).toEqual([]);
    });
    expect(await t.count('api_keys')).toBeGreaterThanOrEqual(2);
  });

  it('sweep deletes only expired idempotency keys', async () => {
    const deleted = await asApp({ scope: 'sweep' }, (tx) => tx.sql.query('DELETE FROM idempotency_keys RETURNING key'));
    expect(deleted).toEqual([]);
    await t.database.sql.query("UPDATE idempotency_keys SET expires_at = now() - interval '1 minute' WHERE user_id = $1", [a.id]);
    const swept = await asApp({ scope: 'sweep' }, (tx) => tx.sql.query<{ key: string }>('DELETE FROM idempotency_keys RETURNING key'));
    expect(swept.map((row) => row.key)).toEqual([`k-${a.id}`]);
    expect(await t.count('idempotency_keys')).toBeGreaterThanOrEqual(1);
  });
});

describe('a fresh database', () => {
  it('gets the app role and its grants from prepareAppRole, twice without harm', async () => {
    const { database, drop } = await createTestDatabase();
    try {
      await prepareAppRole(database);
      const facts = await appRoleFacts(database.app.sql);
      expect(facts.superuser || facts.bypass || facts.owns !== null).toBe(false);
    } finally {
      await drop();
    }
  });
  // Parley's functions that run as the tables' owner look up what they call on the owner's search
  // path: a function the request role put there would run as the owner (with a superuser owner,
  // one injected statement made the request role a superuser). Every role may create in `public`
  // before PostgreSQL 15, as in this grant.
  it('refuses requests a role that may create objects where the owner\'s functions look, naming the statement that fixes it', async () => {
    const { database, drop } = await createTestDatabase();
    try {
      const [{ schema }] = (await database.sql.query<{ schema: string }>('SELECT quote_ident(current_schema()) AS schema')) as [{ schema: string }];
      await database.sql.exec(`GRANT CREATE ON SCHEMA ${schema} TO PUBLIC`);
      const refused = await prepareAppRole(database).then(
        () => null,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(RowSecurityError);
      expect((refused as Error).message).toContain(`requests run as role parley_app, which may create objects in schema ${schema}`);
      const fix = /As the schema's owner or a superuser run: (.*REVOKE CREATE ON SCHEMA \S+ FROM PUBLIC, parley_app;) \(/.exec((refused as Error).message);
      expect(fix, (refused as Error).message).not.toBeNull();

      await database.sql.exec(fix![1]!);
      await prepareAppRole(database);
      const facts = await appRoleFacts(database.app.sql);
      expect(facts.superuser || facts.bypass || facts.owns !== null).toBe(false);
    } finally {
      await drop();
    }
  });
});
