// Parley behind a real PgBouncer in transaction mode (docs/deploy.md: Neon's pooled endpoint,
// Supabase's port 6543). Requests log in as a role of their own (DATABASE_APP_URL) through the
// pooler; the pooler gives them two server connections, so the transactions of two accounts take
// turns on the same PostgreSQL sessions, and a setting that outlived its transaction would hand
// one account's rows to the other. Everything a user does goes through it: turns whole and
// streamed, knowledge, a stop, a visitor, an API key, an export; then the pooler crashes and comes
// back under the same running server.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { fakeLlmEnv } from '../helpers/chat.js';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall } from '../helpers/http-call.js';
import { describeWithPgBouncer, startPgBouncer, type PgBouncer } from '../helpers/pgbouncer.js';
import { superuserFixture } from '../helpers/superuser.js';

const SUPERUSER_URL = process.env.TEST_DATABASE_URL;
const POOL_SIZE = 2;

const cli = cliProcesses();

interface Account {
  name: string;
  token: string;
  chatbot: { id: string; slug: string };
  /** Only this account's knowledge holds it. */
  secret: string;
}

describe.runIf(SUPERUSER_URL)('PostgreSQL', () => {
describeWithPgBouncer('behind PgBouncer in transaction mode', () => {
  const superuser = superuserFixture(SUPERUSER_URL!, cli);

  /** An owner without CREATEROLE, its database, and a LOGIN role for requests, made by an administrator. */
  async function deployment() {
    const id = randomBytes(4).toString('hex');
    const names = { owner: `parley_owner_${id}`, login: `parley_req_${id}`, database: `parley_pool_${id}` };
    superuser.undoLater(`DROP DATABASE IF EXISTS ${names.database} WITH (FORCE)`, `DROP ROLE IF EXISTS ${names.login}`, `DROP ROLE IF EXISTS ${names.owner}`);
    const admin = superuser.admin();
    await admin.unsafe(`CREATE ROLE ${names.owner} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE`);
    await superuser.createOwnedDatabase(names.database, names.owner);
    await admin.unsafe(`CREATE ROLE ${names.login} LOGIN NOSUPERUSER NOBYPASSRLS`);
    const direct = new URL(SUPERUSER_URL!);
    direct.username = names.owner;
    direct.password = '';
    direct.pathname = `/${names.database}`;
    return { ...names, ownerUrl: direct.toString() };
  }

  async function withPooler<T>(run: (d: Awaited<ReturnType<typeof deployment>>, pooler: PgBouncer, llm: FakeLlm) => Promise<T>): Promise<T> {
    const d = await deployment();
    const pooler = await startPgBouncer({ server: SUPERUSER_URL!, database: d.database, users: [d.owner, d.login], poolSize: POOL_SIZE });
    const llm = await startFakeLlm({ chunkDelayMs: 2 });
    try {
      return await run(d, pooler, llm);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- PgBouncer:\n${pooler.log().slice(-3000)}`, { cause: error });
    } finally {
      cli.killAll();
      await pooler.stop();
      await llm.close();
    }
  }

  async function signUp(base: string, name: string): Promise<Account> {
    const registered = await httpCall(base, 'POST', '/v1/auth/register', undefined, { username: name, password: `${name} has a long password` });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const token = registered.body.access_token as string;
    const bot = await httpCall(base, 'POST', '/v1/chatbots', token, { name: `${name} desk`, is_public: true });
    expect(bot.status, JSON.stringify(bot.body)).toBe(201);
    const secret = `${name}-code-${randomBytes(3).toString('hex')}`;
    const doc = await httpCall(base, 'POST', `/v1/chatbots/${bot.body.id}/knowledge`, token, {
      title: 'Hours',
      content: `Our opening hours are nine to five on weekdays. The door code is ${secret}.`,
    });
    expect(doc.status, JSON.stringify(doc.body)).toBe(201);
    return { name, token, chatbot: { id: bot.body.id as string, slug: bot.body.slug as string }, secret };
  }

  /** A streamed turn read to its end: the events' names and the reply's final text. */
  async function streamedTurn(base: string, token: string, conversation: string, content: string) {
    const response = await fetch(`${base}/v1/conversations/${conversation}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ content, stream: true }),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await response.text();
    return { status: response.status, events: [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]) };
  }

  /** Three turns in each of three conversations of one account, every other one streamed. */
  async function converse(base: string, account: Account): Promise<string[]> {
    const conversations: string[] = [];
    await Promise.all(
      [0, 1, 2].map(async (c) => {
        const created = await httpCall(base, 'POST', '/v1/conversations', account.token, { chatbot_id: account.chatbot.id });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        const id = created.body.id as string;
        conversations.push(id);
        for (let turn = 0; turn < 3; turn++) {
          const content = `${account.name} asks (${c}.${turn}): what are your opening hours?`;
          if ((c + turn) % 2 === 0) {
            const answer = await httpCall(base, 'POST', `/v1/conversations/${id}/messages`, account.token, { content });
            expect(answer.status, JSON.stringify(answer.body)).toBe(201);
            expect((answer.body.reply as { content: string }).content).toContain(`${account.name} asks (${c}.${turn})`);
          } else {
            const streamed = await streamedTurn(base, account.token, id, content);
            expect(streamed.status).toBe(200);
            expect(streamed.events).toContain('message.end');
          }
        }
      }),
    );
    return conversations;
  }

  it("serves two accounts at once through two shared server connections, each turn seeing only its own account's knowledge and history", { timeout: 120_000 }, async () => {
    await withPooler(async (d, pooler, llm) => {
      const { base, server } = await serveUntilHealthy(cli, {
        DATABASE_URL: d.ownerUrl,
        DATABASE_APP_URL: pooler.url(d.login),
        DATABASE_PREPARE: 'false',
        LOG_LEVEL: 'info',
        ...fakeLlmEnv(llm.url),
      });
      expect(server.child.exitCode, server.stderr()).toBeNull();
      expect(server.stdout()).toContain(`requests run as role ${d.login} (DATABASE_APP_URL), under row security`);

      const [ada, bob] = await Promise.all([signUp(base, 'ada'), signUp(base, 'bob')]);
      const [adaConversations, bobConversations] = await Promise.all([converse(base, ada!), converse(base, bob!)]);

      // What each model call was given: its own account's knowledge and messages, never the other's.
      const turns = llm.requests.filter((r) => r.messages.some((m) => m.role === 'user' && / asks \(/.test(m.content)));
      expect(turns).toHaveLength(18);
      for (const request of turns) {
        const prompt = request.messages.map((m) => m.content).join('\n');
        const [mine, theirs] = prompt.includes('ada asks') ? [ada!, bob!] : [bob!, ada!];
        expect(prompt).toContain(mine.secret);
        expect(prompt).not.toContain(theirs.secret);
        expect(prompt).not.toContain(`${theirs.name} asks`);
      }

      // Each account lists its own three conversations of six messages, and not the other's.
      for (const [account, own, other] of [[ada!, adaConversations, bobConversations], [bob!, bobConversations, adaConversations]] as const) {
        const list = await httpCall(base, 'GET', '/v1/conversations?limit=50', account.token);
        expect(list.status).toBe(200);
        const items = list.body.data as Array<{ id: string; message_count: number }>;
        expect(items.map((c) => c.id).sort()).toEqual([...own].sort());
        for (const item of items) expect(item.message_count).toBe(6);
        const peek = await httpCall(base, 'GET', `/v1/conversations/${other[0]}`, account.token);
        expect(peek.status).toBe(404);
      }

      // `parley doctor` reaches the request role the same way, and finds it held by row security.
      const doctor = await cli.run(['doctor'], { DATABASE_URL: d.ownerUrl, DATABASE_APP_URL: pooler.url(d.login), DATABASE_PREPARE: 'false' });
      expect(doctor.stdout).toMatch(new RegExp(`^ok +row-security +requests run as ${d.login} \\(DATABASE_APP_URL\\): no superuser, no BYPASSRLS, owns no table`, 'm'));

      // The pooler really stood between: never more request sessions than its pool, whatever Parley's own pool.
      const [sessions] = await superuser.admin()<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${d.database} AND usename = ${d.login}`;
      expect(sessions!.n).toBeGreaterThan(0);
      expect(sessions!.n).toBeLessThanOrEqual(POOL_SIZE);
    });
  });

  it('with the owner through the pooler as well (migrations, set-up): a stop, a visitor, an API key and an export', { timeout: 120_000 }, async () => {
    await withPooler(async (d, pooler, llm) => {
      const { base } = await serveUntilHealthy(cli, {
        DATABASE_URL: pooler.url(d.owner),
        DATABASE_APP_URL: pooler.url(d.login),
        DATABASE_PREPARE: 'false',
        ...fakeLlmEnv(llm.url),
      });
      const ada = await signUp(base, 'ada');

      // A stop sent while the reply streams: the reply ends, kept as interrupted.
      llm.setDelays({ chunkDelayMs: 300 });
      const conversation = (await httpCall(base, 'POST', '/v1/conversations', ada.token, { chatbot_id: ada.chatbot.id })).body.id as string;
      const streaming = streamedTurn(base, ada.token, conversation, 'Tell me a long story about opening hours, please, with every detail you know.');
      await llm.waitFor((requests) => requests.some((r) => r.stream), 10_000);
      await new Promise((resolve) => setTimeout(resolve, 400));
      const stop = await httpCall(base, 'POST', `/v1/conversations/${conversation}/stop`, ada.token, {});
      expect(stop.status, JSON.stringify(stop.body)).toBe(200);
      expect((await streaming).events).toContain('message.end');
      llm.setDelays({ chunkDelayMs: 2 });
      const messages = await httpCall(base, 'GET', `/v1/conversations/${conversation}/messages`, ada.token);
      const stored = messages.body.data as Array<{ role: string; status: string }>;
      expect(stored.find((m) => m.role === 'assistant')?.status).toBe('interrupted');

      // A visitor of the public chatbot, seen in the owner's inbox.
      const visit = await httpCall(base, 'POST', `/v1/public/chatbots/${ada.chatbot.slug}/conversations`, undefined, { visitor_id: 'visitor-1', visitor_name: 'Vera' });
      expect(visit.status, JSON.stringify(visit.body)).toBe(201);
      const visitorTurn = await httpCall(base, 'POST', `/v1/public/conversations/${visit.body.conversation_id}/messages`, visit.body.visitor_token as string, { content: 'Hello from a visitor' });
      expect(visitorTurn.status, JSON.stringify(visitorTurn.body)).toBe(201);
      const inbox = await httpCall(base, 'GET', `/v1/chatbots/${ada.chatbot.id}/conversations`, ada.token);
      expect(inbox.status).toBe(200);
      expect(JSON.stringify(inbox.body)).toContain('Vera');

      // A server calling with the chatbot's key, the OpenAI way.
      const key = await httpCall(base, 'POST', `/v1/chatbots/${ada.chatbot.id}/keys`, ada.token, { name: 'backend' });
      expect(key.status, JSON.stringify(key.body)).toBe(201);
      const completion = await httpCall(base, 'POST', '/v1/chat/completions', key.body.key as string, { model: ada.chatbot.slug, messages: [{ role: 'user', content: 'What are your opening hours?' }] });
      expect(completion.status, JSON.stringify(completion.body)).toBe(200);
      expect(JSON.stringify(completion.body.choices)).toContain('You said: What are your opening hours?');

      // Every stored conversation exported: the stopped one and the visitor's (key calls keep none).
      const exported = await fetch(`${base}/v1/exports/conversations?format=ndjson`, { headers: { authorization: `Bearer ${ada.token}` } });
      expect(exported.status).toBe(200);
      const lines = (await exported.text()).trim().split('\n');
      const ids = lines.map((line) => (JSON.parse(line) as { conversation: { id: string } }).conversation.id);
      expect(ids.sort()).toEqual([conversation, visit.body.conversation_id as string].sort());
    });
  });

  it('answers 503 while the pooler is down, and the same server serves again once it is back', { timeout: 120_000 }, async () => {
    await withPooler(async (d, pooler, llm) => {
      const { base, server } = await serveUntilHealthy(cli, {
        DATABASE_URL: d.ownerUrl,
        DATABASE_APP_URL: pooler.url(d.login),
        DATABASE_PREPARE: 'false',
        ...fakeLlmEnv(llm.url),
      });
      const ada = await signUp(base, 'ada');
      const conversation = (await httpCall(base, 'POST', '/v1/conversations', ada.token, { chatbot_id: ada.chatbot.id })).body.id as string;

      await pooler.kill();
      const during = await httpCall(base, 'POST', `/v1/conversations/${conversation}/messages`, ada.token, { content: 'Are you there?' });
      expect(during.status, JSON.stringify(during.body)).toBe(503);
      expect(during.contentType).toContain('application/problem+json');

      await pooler.restart();
      let after = during;
      for (let i = 0; i < 50 && after.status !== 201; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        after = await httpCall(base, 'POST', `/v1/conversations/${conversation}/messages`, ada.token, { content: 'And now?' });
      }
      expect(after.status, JSON.stringify(after.body)).toBe(201);
      expect(server.child.exitCode).toBeNull();
      // The turn refused while the pooler was down left nothing behind.
      const messages = await httpCall(base, 'GET', `/v1/conversations/${conversation}/messages`, ada.token);
      expect((messages.body.data as Array<{ content: string }>).map((m) => m.content)).toEqual(['And now?', 'You said: And now?']);
    });
  });

  it('without DATABASE_APP_URL (the role switch, which PgBouncer refuses): one line naming the fix, and no start', { timeout: 60_000 }, async () => {
    await withPooler(async (d, pooler) => {
      // As the guide's role SQL sets it up: a request role the owner belongs to.
      // DATABASE_WAIT counts from the process's start, module loading included: 2 s once ran out under
      // a loaded test run before the pooler answered, and the refusal checked here comes after that wait.
      const appRole = `${d.login}_app`;
      superuser.undoLater(`DROP ROLE IF EXISTS ${appRole}`);
      await superuser.admin().unsafe(`CREATE ROLE ${appRole} NOLOGIN; GRANT ${appRole} TO ${d.owner}`);
      const { server } = await serveUntilHealthy(cli, { DATABASE_URL: pooler.url(d.owner), DATABASE_APP_ROLE: appRole, DATABASE_PREPARE: 'false', DATABASE_WAIT: '20s' });
      expect(await server.exited).toBe(1);
      const stderr = server.stderr();
      expect(stderr, stderr).toMatch(/^parley: [^\n]+\n$/);
      expect(stderr).toContain(`requests cannot connect as DATABASE_APP_ROLE ${appRole}: unsupported startup parameter: role (08P01)`);
      expect(stderr).toContain('set DATABASE_APP_URL to a login role of its own');
      // `parley doctor` says the same, on its row-security line.
      const doctor = await cli.run(['doctor'], { DATABASE_URL: pooler.url(d.owner), DATABASE_APP_ROLE: appRole, DATABASE_PREPARE: 'false' });
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toMatch(new RegExp(`^FAIL +row-security +requests cannot connect as DATABASE_APP_ROLE ${appRole}: unsupported startup parameter: role \\(08P01\\).*set DATABASE_APP_URL`, 'm'));
    });
  });
});
});
