// Exporting one long conversation holds a page of its messages in the server's memory, not the
// whole conversation. The document was made by the database as one text, then parsed and written
// again: one export of a conversation of 3,000 messages of 32,000 characters (96 MB) grew the
// server by 1.7 GB on the embedded database (688 MB on PostgreSQL), four at once by 2.4 GB, and
// `/health` waited 3.4 s. A visitor of a public chatbot can make a conversation that long. The
// server's memory is read from /proc while it answers. Paged, the growth is a few pages and the
// garbage V8 has not yet collected: 55-95 MB for 32-192 MB of messages here. The bound is the
// conversation's text (before: 7 to 18 times it).
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { createPglite } from '../../src/db/pglite.js';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall as call } from '../helpers/http-call.js';

const url = process.env.TEST_DATABASE_URL;
const MESSAGES = 4_000;
const CHARS = 32_000;

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

/** Reads a response to its end, keeping its text (a test may parse it). */
function read(address: string, token: string): Promise<{ status: number; text: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    request(address, { headers: { authorization: `Bearer ${token}` } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, text: Buffer.concat(chunks).toString('utf8'), complete: response.complete }));
      response.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

// Random hexadecimal text, which PostgreSQL stores uncompressed: the messages' text is as large on disk as in the export.
const SEED_MESSAGES = `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
  SELECT gen_random_uuid(), $1, $2, CASE WHEN j % 2 = 1 THEN 'user' ELSE 'assistant' END,
         (SELECT string_agg(md5(random()::text || g || j), '') FROM generate_series(1, ${CHARS / 32}) AS g), 'complete', 1,
         now() + j * interval '1 millisecond'
    FROM generate_series($3::int, $4::int) AS j`;

describe('one long conversation exported', () => {
  const processes = cliProcesses();
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    processes.cleanUp();
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** The server's variables, and how to run SQL on its database while it is stopped (PGlite) or running. */
  async function database(): Promise<{ env: Record<string, string>; seed: (statement: string, params: unknown[]) => Promise<void>; whileRunning: boolean }> {
    const dataDir = join(processes.tempDir('parley-long-export-'), 'data');
    if (!url) {
      return {
        env: { DATA_DIR: dataDir },
        whileRunning: false,
        async seed(statement, params) {
          const owner = createPglite(join(dataDir, 'pglite'));
          await owner.query(statement, params);
          await owner.close();
        },
      };
    }
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    const name = `parley_long_export_${randomBytes(4).toString('hex')}`;
    await admin.unsafe(`CREATE DATABASE ${name}`);
    cleanups.push(async () => {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.unsafe(`DROP ROLE IF EXISTS ${name}_app`).catch(() => {});
      await admin.end();
    });
    const target = new URL(url);
    target.pathname = `/${name}`;
    return {
      env: { DATA_DIR: dataDir, DATABASE_URL: target.toString(), DATABASE_APP_ROLE: `${name}_app` },
      whileRunning: true,
      async seed(statement, params) {
        const sql = postgres(target.toString(), { max: 1, onnotice: () => {} });
        await sql.unsafe(statement, params as never[]);
        await sql.end();
      },
    };
  }

  it('holds a page of it in the server\'s memory, not all of it, and exports every message', { timeout: 300_000 }, async () => {
    const db = await database();
    let { base, server } = await serveUntilHealthy(processes, db.env);
    const registered = await call(base, 'POST', '/v1/auth/register', undefined, { username: 'long_export', password: 'a long enough password' });
    const token = registered.body.access_token as string;
    const userId = (registered.body.user as { id: string }).id;
    const chatbot = (await call(base, 'POST', '/v1/chatbots', token, { name: 'Long' })).body.id as string;
    const conversation = (await call(base, 'POST', '/v1/conversations', token, { chatbot_id: chatbot, title: 'long' })).body.id as string;
    if (!db.whileRunning) {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
    for (let from = 1; from <= MESSAGES; from += 500) await db.seed(SEED_MESSAGES, [conversation, userId, from, Math.min(MESSAGES, from + 499)]);
    await db.seed('UPDATE conversations SET message_count = $2 WHERE id = $1', [conversation, MESSAGES]);
    if (!db.whileRunning) ({ base, server } = await serveUntilHealthy(processes, db.env));

    // A short conversation's export first: what any export loads once (code, statements) is not the long one's to carry.
    const short = (await call(base, 'POST', '/v1/conversations', token, { chatbot_id: chatbot, title: 'short' })).body.id as string;
    expect((await read(`${base}/v1/conversations/${short}/export`, token)).status).toBe(200);
    const pid = server.child.pid!;
    const before = rssOf(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
    const exported = await read(`${base}/v1/conversations/${conversation}/export`, token);
    clearInterval(sampler);
    expect(exported.status, exported.text.slice(0, 300)).toBe(200);
    expect(exported.complete).toBe(true);

    const textBytes = MESSAGES * CHARS;
    expect(peak - before, `the server grew by ${Math.round((peak - before) / 1e6)} MB for a conversation of ${textBytes / 1e6} MB`).toBeLessThan(textBytes);

    const document = JSON.parse(exported.text) as { conversation: { id: string; message_count: number }; messages: Array<{ id: string; content: string; role: string }>; data: unknown };
    expect(document.conversation).toMatchObject({ id: conversation, message_count: MESSAGES });
    expect(document.messages).toHaveLength(MESSAGES);
    expect(document.messages.every((message) => message.content.length === CHARS)).toBe(true);
    // Oldest first as the API lists them: by id.
    expect(document.messages.map((message) => message.id)).toEqual(document.messages.map((message) => message.id).sort());
    expect(new Set(document.messages.map((message) => message.id)).size).toBe(MESSAGES);
    expect(document.data).toEqual({});
  });
});
