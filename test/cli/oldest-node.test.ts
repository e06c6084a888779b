// package.json's engines promise the oldest Node the server runs on; CI runs everything else on a
// newer one. node:zlib's crc32 (Node 20.15) once ended every start on 20.12–20.14, whatever the
// configuration. Here the real server runs on that oldest Node through what a user does first:
// an account, a chat, an API key with the OpenAI endpoint, the widget, a backup. Needs that Node:
// TEST_OLDEST_NODE (.ci/oldest-node.sh fetches it).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';
import { httpCall } from '../helpers/http-call.js';
import { freePort } from '../helpers/ports.js';

const node = process.env.TEST_OLDEST_NODE;
const skipReason = node ? '' : ' (skipped: set TEST_OLDEST_NODE to the Node that package.json\'s engines names, as .ci/oldest-node.sh does)';
const engines = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } }).engines.node;

describe.runIf(node)(`the server on the oldest Node package.json names${skipReason}`, () => {
  const cli = cliProcesses();
  afterAll(() => cli.cleanUp());

  it('serves an account, a chat, an API key on the OpenAI endpoint and the widget, and backs up', { timeout: 120_000 }, async () => {
    const version = execFileSync(node!, ['--version'], { encoding: 'utf8' }).trim();
    expect(`v${engines.replace(/^>=/, '')}.`, `engines ${engines}, TEST_OLDEST_NODE is ${version}`).toBe(version.replace(/^(v\d+\.\d+\.).*/, '$1'));

    const dataDir = join(cli.tempDir('parley-oldest-node-'), 'data');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = cli.start(['serve'], { DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' }, { node });
    for (let i = 0; i < 300 && server.child.exitCode === null && !(await fetch(`${base}/health`).catch(() => null))?.ok; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.child.exitCode, server.stderr()).toBeNull();

    const registered = await httpCall(base, 'POST', '/v1/auth/register', undefined, { username: 'oldest_node', password: 'a long enough password' });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const token = registered.body.access_token as string;
    const chatbot = await httpCall(base, 'POST', '/v1/chatbots', token, { name: 'Oldest', is_public: true });
    expect(chatbot.status).toBe(201);
    const chatbotId = chatbot.body.id as string;
    const chat = await httpCall(base, 'POST', '/v1/chat', token, { message: 'Hello there', chatbot_id: chatbotId });
    expect(chat.status, JSON.stringify(chat.body)).toBe(201);
    expect((chat.body.reply as { content: string }).content.length).toBeGreaterThan(0);

    const streamed = await fetch(`${base}/v1/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'And streamed?', chatbot_id: chatbotId, stream: true }),
    });
    expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await streamed.text()).toMatch(/event: message\.delta[\s\S]*event: message\.end/);

    const key = await httpCall(base, 'POST', `/v1/chatbots/${chatbotId}/keys`, token, { name: 'oldest' });
    expect(key.status, JSON.stringify(key.body)).toBe(201);
    const completion = await httpCall(base, 'POST', '/v1/chat/completions', key.body.key as string, { model: chatbotId, user: 'u1', messages: [{ role: 'user', content: 'Hi' }] });
    expect(completion.status, JSON.stringify(completion.body)).toBe(200);
    expect((completion.body.choices as { message: { content: string } }[])[0]!.message.content.length).toBeGreaterThan(0);

    const widget = await fetch(`${base}/widget.js`);
    expect(widget.status).toBe(200);
    expect((await widget.text()).length).toBeGreaterThan(1_000);

    server.child.kill('SIGTERM');
    expect(await server.exited, server.stderr()).toBe(0);
    const backup = await cli.run(['backup', join(cli.tempDir('parley-oldest-node-backup-'), 'all.parley')], { DATA_DIR: dataDir }, { node });
    expect(backup.code, backup.stderr).toBe(0);
    const doctor = await cli.run(['doctor'], { DATA_DIR: dataDir }, { node });
    expect(doctor.stdout, doctor.stderr).toMatch(/migrations/i);
  });
});
