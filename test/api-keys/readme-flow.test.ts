import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';

// Seed 002's flow, exactly as the README shows it: the owner creates a key, their server starts a
// conversation for an end user and sends messages, then talks to the same chatbot through the
// OpenAI SDK. The README's own blocks run against a real server (the builtin responder answers).

const run = promisify(execFile);
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const HEADING = '### From your own servers: API keys, OpenAI SDKs and the AI SDK';

function block(language: string): string {
  const section = README.slice(README.indexOf(HEADING));
  const start = section.indexOf('```' + language + '\n');
  expect(start, `a ${language} block under "${HEADING}"`).toBeGreaterThan(0);
  const body = section.slice(start + language.length + 4);
  return body.slice(0, body.indexOf('```'));
}

let t: TestApp;
let base: string;

beforeAll(async () => {
  t = await createTestApp({ LLM_PROVIDER: 'builtin' });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await t?.close();
});

it('the curl commands and the OpenAI SDK snippet work as written', { timeout: 60_000 }, async () => {
  const owner = await registerUser(t);
  const script = `set -euo pipefail\n${block('sh').replaceAll('http://localhost:8000', base)}\necho "THE_KEY=$KEY"\n`;
  const { stdout } = await run('bash', ['-c', script], { env: { ...process.env, TOKEN: owner.accessToken } });

  const key = /THE_KEY=(parley_sk_[0-9A-Za-z]{36})/.exec(stdout)?.[1];
  expect(key, stdout).toBeDefined();
  // The end user's turn and the OpenAI-format answer both come from the chatbot's knowledge.
  expect(stdout.match(/Orders ship within two working days/g)?.length ?? 0).toBeGreaterThanOrEqual(3);
  expect(stdout).toContain('"object":"chat.completion"');
  expect(stdout).toContain('"object":"list"');
  expect(stdout).toContain(key!.slice(0, 14));
  expect(stdout.split(key!).length - 1, 'the key itself appears only where it was created').toBe(1);

  // The SDK snippet, from a file inside the project so `openai` resolves as it would in the reader's.
  const file = join(process.cwd(), `readme-openai-${randomBytes(4).toString('hex')}.mjs`);
  writeFileSync(file, block('js').replace('http://localhost:8000/v1', `${base}/v1`));
  try {
    const sdk = await run(process.execPath, [file], { env: { ...process.env, PARLEY_KEY: key! } });
    expect(sdk.stdout).toContain('Orders ship within two working days');
  } finally {
    rmSync(file, { force: true });
  }

  // What the end user said is stored, in the owner's tenant.
  const stored = await t.database.sql.query<{ content: string }>("SELECT content FROM messages WHERE role = 'user' AND user_id = $1", [owner.id]);
  expect(stored.map((row) => row.content)).toContain('When will my order ship?');
});
