// `parley backup` of a data folder holding a file dated before 1970 (copied from a machine whose
// clock was wrong, or `touch -d 1960-01-01`): its archive wrote the negative time as '0-575…' in
// the entry's octal field, and `parley restore` refused the backup as a malformed archive, so the
// only copy of the database could not be brought back. Now such a time is written as 1970 (and one
// past the field's largest, in the year 2242, as that largest): the backup restores, and the
// restored server serves the same account and conversation. A backup made before, with the
// negative time in it, restores too.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { fakeLlmEnv } from '../helpers/chat.js';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall as call } from '../helpers/http-call.js';

const cli = cliProcesses();
const { tempDir, run } = cli;

async function serve(env: Record<string, string>) {
  const { base, server } = await serveUntilHealthy(cli, env);
  expect(server.child.exitCode, server.stderr()).toBeNull();
  return { ...server, base };
}

let fake: FakeLlm;
let env: Record<string, string>;

afterAll(async () => {
  cli.killAll();
  await fake?.close();
  cli.cleanUp();
});

/** The conversation's messages as the server serves them. */
const contents = async (base: string, token: string, id: string) =>
  ((await call(base, 'GET', `/v1/conversations/${id}/messages?limit=100`, token)).body.data as unknown as Array<{ role: string; content: string }>).map(({ role, content }) => ({ role, content }));

const BEFORE_1970 = new Date('1960-01-01T00:00:00Z');
let sourceDir: string;
let token: string;
let conversationId: string;
let before: Array<{ role: string; content: string }>;
/** The data folder's file dated 1960. */
let oldFile: string;

beforeAll(async () => {
  fake = await startFakeLlm();
  env = { ...fakeLlmEnv(fake.url), LOG_LEVEL: 'warn' };
  sourceDir = tempDir('parley-old-dates-a-');
  const source = await serve({ ...env, DATA_DIR: sourceDir });
  const registered = await call(source.base, 'POST', '/v1/auth/register', undefined, { username: 'old_dates', password: 'a long enough password' });
  expect(registered.status).toBe(201);
  token = registered.body.access_token as string;
  const chatbot = await call(source.base, 'POST', '/v1/chatbots', token, { name: 'Old dates bot', system_prompt: 'Answer briefly.' });
  conversationId = (await call(source.base, 'POST', '/v1/conversations', token, { chatbot_id: chatbot.body.id })).body.id as string;
  const sent = await call(source.base, 'POST', `/v1/conversations/${conversationId}/messages`, token, { content: 'remember the year 1960' });
  expect(sent.status, JSON.stringify(sent.body)).toBe(201);
  before = await contents(source.base, token, conversationId);
  expect(before).toHaveLength(2);
  source.child.kill('SIGTERM');
  expect(await source.exited).toBe(0);

  // With no server running a backup reads the folder where it is, with its dates as they are.
  const pglite = join(sourceDir, 'pglite');
  const dated = readdirSync(pglite).filter((name) => statSync(join(pglite, name)).isFile());
  expect(dated.length).toBeGreaterThan(1);
  oldFile = dated[0]!;
  utimesSync(join(pglite, oldFile), BEFORE_1970, BEFORE_1970);
  utimesSync(join(pglite, 'base'), new Date('1969-12-31T23:59:59.500Z'), new Date('1969-12-31T23:59:59.500Z'));
  utimesSync(join(pglite, dated[1]!), new Date('2300-01-01T00:00:00Z'), new Date('2300-01-01T00:00:00Z'));
  expect(statSync(join(pglite, oldFile)).mtimeMs).toBeLessThan(0);
}, 120_000);

/** Restores `file` into a new DATA_DIR, serves it, and checks the account and conversation are there and chat on. */
async function restoresAndServes(file: string) {
  const restoredDir = tempDir('parley-old-dates-b-');
  const restore = await run(['restore', file], { DATA_DIR: restoredDir });
  expect(restore.code, restore.stderr).toBe(0);
  expect(restore.stderr).toMatch(/^restore: DATA_DIR \(.*\) now holds the database of /m);

  const restored = await serve({ ...env, DATA_DIR: restoredDir });
  const login = await call(restored.base, 'POST', '/v1/auth/login', undefined, { username: 'old_dates', password: 'a long enough password' });
  expect(login.status).toBe(200);
  expect(await contents(restored.base, token, conversationId)).toEqual(before);
  const next = await call(restored.base, 'POST', `/v1/conversations/${conversationId}/messages`, token, { content: 'and after the restore?' });
  expect(next.status, JSON.stringify(next.body)).toBe(201);
  restored.child.kill('SIGTERM');
  expect(await restored.exited).toBe(0);
}

/** The backup `file` rewritten as backups were before: the 1960 file's time a negative octal number. */
function asWrittenBefore(file: string): string {
  const bytes = readFileSync(file);
  const headerEnd = bytes.indexOf(10, bytes.indexOf(10) + 1) + 1;
  const header = JSON.parse(bytes.subarray(bytes.indexOf(10) + 1, headerEnd - 1).toString('utf8')) as { database: Record<string, unknown> };
  const tar = gunzipSync(bytes.subarray(headerEnd));
  let rewritten = false;
  for (let at = 0; tar[at] !== 0; ) {
    const block = tar.subarray(at, at + 512);
    const name = block.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    if (name === `/${oldFile}`) {
      block.write(`${Math.floor(BEFORE_1970.getTime() / 1000).toString(8).padStart(11, '0')}\0`, 136, 'latin1');
      block.write(' '.repeat(8), 148, 'latin1');
      let sum = 0;
      for (let i = 0; i < 500; i++) sum += block[i]!;
      block.write(`${(sum % 262144).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      rewritten = true;
    }
    at += 512 + Math.ceil(parseInt(block.subarray(124, 135).toString('latin1'), 8) / 512) * 512;
  }
  expect(rewritten).toBe(true);
  const archive = gzipSync(tar);
  const database = { ...header.database, bytes: archive.length, sha256: createHash('sha256').update(archive).digest('hex') };
  const old = `${file}.old`;
  writeFileSync(old, Buffer.concat([bytes.subarray(0, bytes.indexOf(10) + 1), Buffer.from(`${JSON.stringify({ ...header, database })}\n`), archive]));
  return old;
}

describe('parley backup of a data folder with files dated before 1970 or far ahead', () => {
  it('restores, and the restored server serves the same account and conversation', { timeout: 180_000 }, async () => {
    const file = join(tempDir('parley-old-dates-file-'), 'parley.backup');
    const backup = await run(['backup', file], { DATA_DIR: sourceDir });
    expect(backup.code, backup.stderr).toBe(0);
    await restoresAndServes(file);
  });

  it('a backup made before, holding the time before 1970 as a negative number, restores too', { timeout: 180_000 }, async () => {
    const file = join(tempDir('parley-old-dates-file-'), 'parley.backup');
    expect((await run(['backup', file], { DATA_DIR: sourceDir })).code).toBe(0);
    await restoresAndServes(asWrittenBefore(file));
  });
});
