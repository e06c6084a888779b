// Seed 000's flow, exactly as the README shows it: a user of the main system (an external JWT)
// onboards a company in Traditional Chinese, reads what was collected and exports it — once with
// the builtin responder and no model, once through a model (the fake LLM, whose structured
// output answers what each README message states).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { fakeLlmEnv } from '../helpers/chat.js';
import { parseCsv } from '../exports/csv-parse.js';
import { startFakeLlm, type FakeLlm, type RecordedRequest } from '../fake-llm/fake-llm.js';

const run = promisify(execFile);
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const HEADING = '### Collecting data: company onboarding (seed 000)';
const SECRET = 'your-shared-secret-of-16-bytes-or-more';

/** The n-th sh block under the heading. */
function block(n: number): string {
  const section = README.slice(README.indexOf(HEADING), README.indexOf('\n### ', README.indexOf(HEADING) + HEADING.length));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
  expect(blocks.length, `the sh blocks under "${HEADING}"`).toBe(4);
  return blocks[n]!;
}

async function serve(env: Record<string, string>): Promise<{ t: TestApp; base: string }> {
  const t = await createTestApp({ EXTERNAL_JWT_SECRET: SECRET, RATE_LIMIT_MESSAGES_USER: '1000/1m', ...env });
  const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  return { t, base };
}

async function runFlow(base: string, answers: string): Promise<string> {
  const script = ['set -euo pipefail', block(0), answers, 'echo "=== DATA"', block(3)].join('\n').replaceAll('http://localhost:8000', base);
  const { stdout } = await run('bash', ['-c', script], { env: { ...process.env }, maxBuffer: 8 * 1024 * 1024 });
  return stdout;
}

const EXPECTED = {
  company_name: '宏達電子股份有限公司',
  industry: '電子業',
  company_size: 120,
  country: '台灣',
  contact_name: '陳小姐',
  contact_email: 'chen@example.com.tw',
};

/** The JSON value at the start of `text` (curl prints bodies back to back), and what follows it. */
function leadingJson(text: string): [unknown, string] {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) return [JSON.parse(text.slice(0, i + 1)), text.slice(i + 1)];
  }
  throw new Error(`no JSON value at the start of ${text.slice(0, 80)}`);
}

function checkCollected(stdout: string, product: Record<string, unknown>) {
  const after = stdout.slice(stdout.indexOf('=== DATA') + 9);
  const [collected, rest] = leadingJson(after);
  expect(collected).toEqual({ data: { ...EXPECTED, products: [product] }, missing: [], completed: true });
  const [exported, csv] = leadingJson(rest) as [{ data: unknown; conversation: { status: string } }, string];
  expect(exported.data).toEqual((collected as { data: unknown }).data);
  expect(exported.conversation.status).toBe('completed');
  expect(csv.startsWith('\uFEFF')).toBe(true);
  const rows = parseCsv(csv.slice(1)).map((record) => record.map((cell) => cell.value));
  expect(rows).toHaveLength(2);
  const [header, row] = rows as [string[], string[]];
  expect(row[header.indexOf('company_name')]).toBe('宏達電子股份有限公司');
  expect(row[header.indexOf('company_size')]).toBe('120');
  expect(JSON.parse(row[header.indexOf('products')]!)).toEqual([product]);
}

describe("the README's onboarding flow", () => {
  let builtin: { t: TestApp; base: string };
  let modelled: { t: TestApp; base: string };
  let fake: FakeLlm;

  beforeAll(async () => {
    fake = await startFakeLlm();
    fake.setExtraction((request: RecordedRequest) => extractionFor(request));
    builtin = await serve({ LLM_PROVIDER: 'builtin' });
    modelled = await serve(fakeLlmEnv(fake.url));
  });
  afterAll(async () => {
    await builtin?.t.close();
    await modelled?.t.close();
    await fake?.close();
  });

  it('with the builtin responder and no model', { timeout: 60_000 }, async () => {
    const stdout = await runFlow(builtin.base, block(1));
    expect(stdout).toContain('您好！我會協助您完成公司資料登錄');
    expect(stdout).toContain('感謝您！公司資料已完整登錄。');
    checkCollected(stdout, { name: '智慧手錶', description: '健康監測手錶', price: 5990 });
  });

  it('through a model', { timeout: 60_000 }, async () => {
    const stdout = await runFlow(modelled.base, block(2));
    checkCollected(stdout, { name: '智慧手錶', description: '健康監測用', price: 5990 });
    // The reply's model was told what to ask while something was missing.
    const chats = fake.requests.filter((request) => !request.body?.response_format && !request.body?.tools);
    expect(chats.length).toBe(4);
    expect(chats[0]!.messages.some((message) => message.role === 'system' && message.content.includes('公司名稱'))).toBe(true);
  });
});

/** What a model would extract from each README message. */
function extractionFor(request: RecordedRequest): Record<string, unknown> {
  const text = request.messages.map((message) => message.content).join('\n');
  const none = { company_name: null, industry: null, company_size: null, country: null, contact_name: null, contact_email: null, website: null, products: null };
  // Newest first: the request also carries the previous reply, which echoes the previous message.
  if (text.includes('智慧手錶')) return { ...none, products: [{ name: '智慧手錶', description: '健康監測用', price: 5990 }] };
  if (text.includes('聯絡人是陳小姐')) return { ...none, contact_name: '陳小姐', contact_email: 'chen@example.com.tw' };
  if (text.includes('我們是宏達電子股份有限公司')) return { ...none, company_name: '宏達電子股份有限公司', industry: '電子業', country: '台灣', company_size: 120 };
  return none;
}
