// `parley export` (§1, §9): the same documents and CSV as GET /v1/exports/conversations, to a
// file or standard output, with progress on standard error; a failure leaves no file behind.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExportCommand, type ExportIo } from '../../src/cli-export.js';
import type { SqlRunner } from '../../src/db/client.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let dir: string;
let owner: RegisteredUser;
let chatbot: { id: string };

/**
 * A destination; a slow one takes its time (1 KiB buffer, one chunk per turn of the event loop),
 * so the writer must wait for 'drain'.
 */
function sink(options: { slow: boolean; isTTY?: boolean }) {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      if (options.slow) setImmediate(done);
      else done();
    },
  }) as Writable & { isTTY?: boolean };
  const isTTY = options.isTTY ?? false;
  stream.isTTY = isTTY;
  return { stream, bytes: () => Buffer.concat(chunks), text: () => Buffer.concat(chunks).toString('utf8') };
}

function io(isTTY = false) {
  const stdout = sink({ slow: true });
  const stderr = sink({ slow: false, isTTY });
  const streams: ExportIo = { stdout: stdout.stream, stderr: stderr.stream };
  return { stdout, stderr, streams };
}

const httpExport = (query: string) => t.request({ method: 'GET', url: `/v1/exports/conversations?chatbot_id=${chatbot.id}${query}`, headers: bearer(owner.accessToken) });

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '1000/1m' });
  dir = mkdtempSync(join(tmpdir(), 'parley-export-'));
  owner = await registerUser(t);
  chatbot = await createChatbot(t, owner);
  await t.database.sql.query('UPDATE chatbots SET collect = $1::jsonb WHERE id = $2', [
    JSON.stringify({ fields: [{ key: 'company_name', label: '公司', type: 'string' }, { key: 'size', label: 'Size', type: 'number' }] }),
    chatbot.id,
  ]);
  const first = await createConversation(t, owner, { chatbot_id: chatbot.id });
  await sendMessage(t, owner, first.id, { content: '你好' });
  await t.database.sql.query('UPDATE conversations SET data = $1::jsonb, created_at = $2::timestamptz WHERE id = $3', [
    JSON.stringify({ company_name: '=HYPERLINK("http://x") 台灣', size: -5 }),
    '2026-05-01T10:00:00Z',
    first.id,
  ]);
  await t.database.sql.query(
    `INSERT INTO conversations (id, user_id, chatbot_id, title, status, created_at, updated_at, data)
     SELECT gen_random_uuid(), $1, $2, 'seeded ' || i, CASE WHEN i % 4 = 0 THEN 'completed' ELSE 'active' END,
            '2026-05-02T00:00:00Z'::timestamptz + i * interval '1 minute', now(), jsonb_build_object('company_name', 'কোম্পানি ' || i, 'size', i)
       FROM generate_series(1, 260) AS i`,
    [owner.id, chatbot.id],
  );
  // Another owner's chatbot and conversations stay out.
  const stranger = await registerUser(t);
  await createConversation(t, stranger);
});
afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('parley export', () => {
  it('writes the same JSON document array as the HTTP export to a file, with progress on stderr', async () => {
    const output = join(dir, 'all.json');
    const { stdout, stderr, streams } = io();
    const summary = await runExportCommand(['--chatbot', chatbot.id, '--output', output], t.database.sql, streams);
    expect(summary).toMatchObject({ written: 261, total: 261, format: 'json', output });
    expect(readFileSync(output, 'utf8')).toBe((await httpExport('')).body);
    expect(JSON.parse(readFileSync(output, 'utf8'))).toHaveLength(261);
    expect(readdirSync(dirname(output)).filter((name) => name.endsWith('.partial'))).toEqual([]);
    expect(stdout.text()).toBe('');
    expect(stderr.text()).toMatch(/exporting \[#{20}\] 261\/261 conversations \(100%\)\n/);
    expect(stderr.text()).toMatch(/exported 261 conversations as json to .*all\.json\n$/);
  });

  it('writes NDJSON to standard output when no file is named, waiting for a slow reader', async () => {
    const { stdout, stderr, streams } = io();
    await runExportCommand(['--chatbot', chatbot.id, '--format', 'ndjson'], t.database.sql, streams);
    expect(stdout.text()).toBe((await httpExport('&format=ndjson')).body);
    expect(stdout.text().split('\n')).toHaveLength(262);
    expect(stderr.text()).toContain('261/261');
  });

  it('writes the same CSV bytes (BOM, quoting, formula guard) and applies the same filters', async () => {
    const output = join(dir, 'completed.csv');
    const { streams } = io();
    const args = ['--chatbot', chatbot.id, '--format', 'csv', '--status', 'active', '--from', '2026-05-01', '--to', '2026-05-02', '-o', output];
    const summary = await runExportCommand(args, t.database.sql, streams);
    const http = await httpExport('&format=csv&status=active&from=2026-05-01&to=2026-05-02');
    const file = readFileSync(output);
    expect(file.equals(http.rawPayload)).toBe(true);
    expect([...file.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = file.toString('utf8');
    expect(text).toContain(`,"'=HYPERLINK(""http://x"") 台灣",-5\r\n`);
    expect(text).toContain(',কোম্পানি 1,1\r\n');
    // 2026-05-02 holds seeded minutes 1..260 (all before 2026-05-02T04:21Z); status active drops every fourth.
    expect(summary.written).toBe(1 + 260 - 65);
    expect(summary.total).toBe(summary.written);
  });

  it('redraws one progress line on a terminal', async () => {
    const { stderr, streams } = io(true);
    await runExportCommand(['--chatbot', chatbot.id, '--format', 'ndjson', '--status', 'completed'], t.database.sql, streams);
    expect(stderr.text()).toMatch(/^\rexporting \[.*\] 65\/65 conversations \(100%\)\n/m);
  });

  it('explains its usage, and refuses an unknown chatbot', async () => {
    const run = (args: string[]) => runExportCommand(args, t.database.sql, io().streams);
    await expect(run([])).rejects.toThrow(/--chatbot is required\nusage: parley export/);
    await expect(run(['--chatbot', 'nope'])).rejects.toThrow(/--chatbot must be a chatbot id/);
    await expect(run(['--chatbot', chatbot.id, '--format', 'xml'])).rejects.toThrow(/--format must be json, ndjson or csv/);
    await expect(run(['--chatbot', chatbot.id, '--status', 'old'])).rejects.toThrow(/--status must be active or completed/);
    await expect(run(['--chatbot', chatbot.id, '--from', '2026-02-30'])).rejects.toThrow(/--from must be a date written YYYY-MM-DD/);
    await expect(run(['--chatbot', chatbot.id, '--from', '2026-03-02', '--to', '2026-03-01'])).rejects.toThrow(/--from must not be after to/);
    await expect(run(['--chatbot', chatbot.id, '--colour', 'blue'])).rejects.toThrow(/usage: parley export/);
    await expect(run(['--chatbot', '01900000-0000-7000-8000-000000000000'])).rejects.toThrow(/no chatbot with id/);
  });

  it('fails when the database fails midway, and leaves no file that looks complete', async () => {
    const output = join(dir, 'cut.ndjson');
    // The fourth transaction (after finding the chatbot, counting, and the first batch) finds the database gone.
    let transactions = 0;
    const failing: SqlRunner = {
      query: (text, params) => t.database.sql.query(text, params),
      exec: (text) => t.database.sql.exec(text),
      transaction: (fn) => {
        if (++transactions === 4) return Promise.reject(Object.assign(new Error('Connection terminated unexpectedly'), { code: 'CONNECTION_CLOSED' }));
        return t.database.sql.transaction(fn);
      },
    };
    const { stderr, streams } = io();
    await expect(
      runExportCommand(['--chatbot', chatbot.id, '--format', 'ndjson', '--output', output], failing, { ...streams, settings: { batchSize: 100, batchMessages: 5_000, batchBytes: 4 * 1024 * 1024 } }),
    ).rejects.toThrow(/export failed after 100 of 261 conversations: Connection terminated unexpectedly/);
    expect(existsSync(output)).toBe(false);
    expect(readdirSync(dirname(output)).filter((name) => name.endsWith('.partial'))).toEqual([]);
    expect(stderr.text()).not.toContain('exported');
  });
});
