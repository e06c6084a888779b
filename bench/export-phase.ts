/**
 * Phase 12: bulk exports of a large history. One chatbot of the company-onboarding template holds
 * BENCH_EXPORT_CONVERSATIONS completed conversations with collected data (seeded in SQL, see
 * export-seed.ts); `GET /v1/exports/conversations` is read to the end as NDJSON, CSV and JSON
 * while Parley's RSS is sampled, and the baseline (export-baseline-server.ts) streams the same
 * rows as NDJSON the plainest way.
 *
 * Everything lives apart from the rest of the run: its own Parley process, and on PostgreSQL a
 * fresh schema (dropped at the end), so old runs' rows neither slow nor pad the figures.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import postgres from 'postgres';
import { keepAliveAgent, postJson } from './client.js';
import { readExport, type ExportKind, type ExportRead } from './export-client.js';
import { countSeeded, openOwner, seedConversations, type OwnerTarget } from './export-seed.js';
import { forceGc, rssBytes, sleep, startParley, tempDir, type Child } from './processes.js';
import { atMost, num, ratio, withUnit, type Row, type Section } from './report.js';

const ROOT = new URL('..', import.meta.url).pathname;
const RSS_TARGET_MB = 50;
const PASSWORD = 'bench-password-123';
const MB = 1e6;
const dash = '—';

export const EXPORT_METHOD =
  'A Parley process of this phase (its own PGlite folder, or on PostgreSQL a fresh schema of the same database, dropped afterwards) ' +
  'gets an account and a chatbot made from the `company-onboarding` template through the API; then, with Parley stopped, the bench ' +
  'writes BENCH_EXPORT_CONVERSATIONS completed conversations of that chatbot straight into the tables as their owner ' +
  '(`INSERT … SELECT … FROM generate_series`, UUIDv7 ids, one second apart, four messages each; the collected data has Chinese and ' +
  'Bengali text, numbers, 1–3 products and strings that begin with `=`, `+`, `-` or `@`) and runs `VACUUM ANALYZE`. ' +
  '**Baseline**: `bench/export-baseline-server.ts`, a node:http server in its own process that reads the same rows as the tables\' owner ' +
  '(no auth, no row security, no transactions) with `SELECT … ORDER BY created_at, id` in keyset batches of 200 plus one messages query ' +
  'per batch, and writes each row as the driver returns it, one JSON line per conversation. Then Parley is started again and ' +
  '`GET /v1/exports/conversations?chatbot_id=…&status=completed&format=…` is read as NDJSON once (the first export after start, measured apart: see its row), ' +
  'then as NDJSON, CSV and JSON, one after the other; the baseline likewise exports twice. ' +
  'Each export is read to its end by the bench over one keep-alive loopback connection; records are counted as they arrive ' +
  '(NDJSON lines, CSV records outside quotes, JSON array items) and must equal the number seeded. Time to first byte = request ' +
  'sent → first body byte. RSS growth = the highest VmRSS of the server process (read from /proc every 50 ms) − its VmRSS just ' +
  'before the request (MB = 10⁶ bytes), read after a full garbage collection (both servers listen for the inspector on loopback for that alone) ' +
  'and a second\'s rest; in PGlite mode the embedded database\'s memory is part of both servers\' RSS. The baseline column of every ' +
  'format is the baseline\'s second NDJSON export.';

interface Target {
  /** What Parley and the baseline connect to. */
  url?: string;
  dataDir?: string;
  owner: OwnerTarget;
  cleanUp(): Promise<void>;
}

/** PostgreSQL: a fresh schema on the bench's database, named in the URL (postgres.js sends it as search_path). */
async function prepareTarget(databaseUrl: string | undefined, runId: string, say: (line: string) => void): Promise<Target> {
  if (!databaseUrl) {
    const dataDir = tempDir('export');
    return { dataDir, owner: { kind: 'pglite', dir: join(dataDir, 'pglite') }, cleanUp: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const schema = `bench_export_${runId}`;
  const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE SCHEMA ${schema}`);
  say(`PostgreSQL schema ${schema}`);
  const url = new URL(databaseUrl);
  url.searchParams.set('search_path', schema);
  return {
    url: url.toString(),
    owner: { kind: 'postgres', url: url.toString() },
    cleanUp: async () => {
      say(`dropping schema ${schema}`);
      await admin.unsafe(`DROP SCHEMA ${schema} CASCADE`).finally(() => admin.end({ timeout: 5 }));
    },
  };
}

/** The export's baseline server in its own process, on the same database. */
async function startExportBaseline(target: Target): Promise<Child> {
  const env = { ...process.env, PORT: '0', ...(target.url ? { EXPORT_DATABASE_URL: target.url } : { EXPORT_PGLITE_DIR: join(target.dataDir!, 'pglite') }) };
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', '--import', 'tsx', 'bench/export-baseline-server.ts'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('could not start the export baseline');
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const lines: string[] = [];
  let inspector: string | undefined;
  createInterface({ input: child.stderr! }).on('line', (line) => {
    lines.push(line);
    inspector ??= /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1];
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the export baseline did not start within 60 s\n${lines.join('\n')}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`the export baseline exited (${code})\n${lines.join('\n')}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = /^\{"url":"([^"]+)"\}$/.exec(line);
      if (parsed) {
        clearTimeout(timer);
        resolve(parsed[1]!);
      }
    });
  });
  const stop = async () => {
    process.off('exit', kill);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(kill, 5000);
    await exited;
    clearTimeout(timer);
  };
  return { name: 'export-baseline', pid: child.pid, url, process: child, logTail: () => lines.join('\n'), inspectorUrl: () => inspector, stop };
}

async function signIn(url: string, username: string): Promise<string> {
  const answer = await postJson(`${url}/v1/auth/login`, { username, password: PASSWORD });
  if (answer.status !== 200) throw new Error(`sign in: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.access_token as string;
}

/** The account and the chatbot, through the API. */
async function createOwner(url: string, username: string): Promise<{ ownerId: string; chatbotId: string }> {
  const registered = await postJson(`${url}/v1/auth/register`, { username, password: PASSWORD });
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${JSON.stringify(registered.body)}`);
  const token = registered.body.access_token as string;
  const chatbot = await postJson(`${url}/v1/chatbots`, { template: 'company-onboarding', name: 'Export bench onboarding' }, { token });
  if (chatbot.status !== 201) throw new Error(`create chatbot: ${chatbot.status} ${JSON.stringify(chatbot.body)}`);
  if (!chatbot.body.collect?.fields?.length) throw new Error('the chatbot was created without the template\'s collect fields');
  return { ownerId: registered.body.user.id as string, chatbotId: chatbot.body.id as string };
}

const mb = (bytes: number) => bytes / MB;
const perSecond = (read: ExportRead) => read.records / (read.totalMs / 1000);
const growth = (read: ExportRead) => mb(read.rssPeak - read.rssBefore);

function describe(kind: string, read: ExportRead): string {
  const tenths = read.tenths.map((at, i) => at - (read.tenths[i - 1] ?? read.ttfbMs));
  const pace = tenths.length === 10 ? `; first tenth ${num(tenths[0]! / 1000, 2)} s, last tenth ${num(tenths[9]! / 1000, 2)} s` : '';
  return `${kind}: ${read.records.toLocaleString('en-US')} conversations, ${num(read.bytes / 1e6)} MB in ${num(read.totalMs / 1000, 2)} s (${num(perSecond(read), 0)}/s), TTFB ${num(read.ttfbMs, 1)} ms; server RSS ${num(mb(read.rssBefore))} MB before, ${num(mb(read.rssPeak))} MB at the peak, ${num(mb(read.rssAfter))} MB at the end, ${num(mb(read.rssAfterGc))} MB after a full garbage collection (${read.rssSamples} samples); server CPU ${num(read.serverCpuMs / 1000, 2)} s${pace}.`;
}

/**
 * One export read to its end on a keep-alive connection opened (by GET /health) before the
 * measured request; the server is first asked for a full garbage collection and left alone for a
 * second, so "just before" is not start-up's or the previous export's garbage.
 */
async function measure(url: string, server: Child, kind: ExportKind, expected: number, say: (line: string) => void, token?: string): Promise<ExportRead> {
  const agent = keepAliveAgent();
  try {
    await new Promise<void>((resolve, reject) => {
      http.get(`${new URL(url).origin}/health`, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
    if (!(await forceGc(server))) say(`${kind}: could not ask ${server.name} for a garbage collection`);
    await sleep(1000);
    say(`${kind}: reading`);
    const read = await readExport({ url, token, agent, pid: server.pid, kind, expected, say });
    await forceGc(server);
    await sleep(1000);
    read.rssAfterGc = rssBytes(server.pid);
    say(describe(kind, read));
    return read;
  } finally {
    agent.destroy();
  }
}

function rows(reads: Record<ExportKind, ExportRead>, base: ExportRead, expected: number): Row[] {
  const out: Row[] = [];
  const label = { ndjson: 'NDJSON', csv: 'CSV', json: 'JSON' } as const;
  for (const kind of ['ndjson', 'csv', 'json'] as const) {
    const read = reads[kind];
    const name = label[kind];
    out.push(
      { measure: `${name}: conversations per second`, parley: num(perSecond(read), 0), baseline: num(perSecond(base), 0), ratio: ratio(perSecond(read), perSecond(base)), target: dash, verdict: dash },
      { measure: `${name}: time to first byte`, parley: withUnit(read.ttfbMs, 'ms'), baseline: withUnit(base.ttfbMs, 'ms'), ratio: ratio(read.ttfbMs, base.ttfbMs), target: dash, verdict: dash },
      { measure: `${name}: total time`, parley: withUnit(read.totalMs / 1000, 's', 2), baseline: withUnit(base.totalMs / 1000, 's', 2), ratio: ratio(read.totalMs, base.totalMs), target: dash, verdict: dash },
      { measure: `${name}: server RSS growth (peak − just before)`, parley: withUnit(growth(read), 'MB'), baseline: withUnit(growth(base), 'MB'), ratio: ratio(growth(read), growth(base)), target: `< ${RSS_TARGET_MB} MB`, verdict: atMost(growth(read), RSS_TARGET_MB, 'MB', 1) },
    );
  }
  const counts = (['ndjson', 'csv', 'json'] as const).map((kind) => reads[kind].records);
  const whole = counts.every((n) => n === expected) && base.records === expected;
  const problems = [...(['ndjson', 'csv', 'json'] as const).map((kind) => reads[kind].problem), base.problem].filter(Boolean);
  out.push({
    measure: 'Conversations received (NDJSON / CSV / JSON)',
    parley: counts.map((n) => n.toLocaleString('en-US')).join(' / '),
    baseline: base.records.toLocaleString('en-US'),
    ratio: dash,
    target: `${expected.toLocaleString('en-US')} each, well formed`,
    verdict: whole && problems.length === 0 ? '✅ met' : `❌ missed${problems.length ? `: ${problems.join('; ')}` : ''}`,
  });
  return out;
}

export interface ExportPhaseOptions {
  llmUrl: string;
  databaseUrl?: string;
  runId: string;
  conversations: number;
}

export async function exportPhase(section: Section, say: (line: string) => void, options: ExportPhaseOptions): Promise<void> {
  const { conversations } = options;
  const target = await prepareTarget(options.databaseUrl, options.runId, say);
  const username = `${options.runId}-export`;
  try {
    const parleyOptions = { llmUrl: options.llmUrl, databaseUrl: target.url, dataDir: target.dataDir };
    say('starting Parley to create the account and the chatbot');
    let parley = await startParley('parley-export', parleyOptions);
    const { ownerId, chatbotId } = await createOwner(parley.url, username).finally(() => parley.stop());

    const owner = await openOwner(target.owner);
    try {
      const seeded = await seedConversations(owner.sql, { ownerId, chatbotId, conversations, say });
      const stored = await countSeeded(owner.sql, chatbotId);
      if (stored.conversations !== conversations) throw new Error(`seeded ${stored.conversations} conversations, not ${conversations}`);
      section.notes.push(`Seeded ${conversations.toLocaleString('en-US')} conversations and ${stored.messages.toLocaleString('en-US')} messages in ${num(seeded.seconds)} s (VACUUM ANALYZE included).`);
    } finally {
      await owner.close();
    }

    say('starting the baseline on the same database');
    const baseline = await startExportBaseline(target);
    // Each server's first export after its start pays one-time costs (V8's young generation grows to
    // its working size, code is compiled, connections open): measured and shown, then measured again.
    const baseUrl = `${baseline.url}/export?chatbot_id=${chatbotId}`;
    const measureBaseline = async (): Promise<[ExportRead, ExportRead]> => {
      const first = await measure(baseUrl, baseline, 'ndjson', conversations, (line) => say(`baseline (first) ${line}`));
      return [first, await measure(baseUrl, baseline, 'ndjson', conversations, (line) => say(`baseline ${line}`))];
    };
    const [baseCold, base] = await measureBaseline().finally(() => baseline.stop());

    say('starting Parley again');
    parley = await startParley('parley-export', { ...parleyOptions, inspect: true });
    try {
      const token = await signIn(parley.url, username);
      const url = `${parley.url}/v1/exports/conversations?chatbot_id=${chatbotId}&status=completed`;
      const reads = {} as Record<ExportKind, ExportRead>;
      const cold = await measure(`${url}&format=ndjson`, parley, 'ndjson', conversations, (line) => say(`Parley (first) ${line}`), token);
      section.rows.push({
        measure: 'First export after start (NDJSON): server RSS growth',
        parley: withUnit(growth(cold), 'MB'),
        baseline: withUnit(growth(baseCold), 'MB'),
        ratio: ratio(growth(cold), growth(baseCold)),
        target: `< ${RSS_TARGET_MB} MB`,
        verdict: atMost(growth(cold), RSS_TARGET_MB, 'MB', 1),
      });
      section.notes.push(
        `The first export after each server's start is measured apart (the row above), held to the same target: it also pays what the process does once (V8's young generation growing to its working size, code compiled, pooled connections opened); its RSS before the next export, after a full garbage collection, was ${num(mb(cold.rssAfterGc - cold.rssBefore))} MB higher (baseline: ${num(mb(baseCold.rssAfterGc - baseCold.rssBefore))} MB). The rows below are each format's export after that one.`,
      );
      for (const kind of ['ndjson', 'csv', 'json'] as const) reads[kind] = await measure(`${url}&format=${kind}`, parley, kind, conversations, (line) => say(`Parley ${line}`), token);
      section.rows.push(...rows(reads, base, conversations));
      section.notes.push(describe('Baseline NDJSON', base), ...(['ndjson', 'csv', 'json'] as const).map((kind) => describe(`Parley ${kind.toUpperCase()}`, reads[kind])));
      const held = Math.max(...Object.values(reads).map((read) => mb(read.rssAfterGc - read.rssBefore)));
      if (Object.values(reads).some((read) => growth(read) >= RSS_TARGET_MB) && held < RSS_TARGET_MB / 5) {
        section.notes.push(
          `After each export and a full garbage collection Parley's RSS was at most ${num(held)} MB above its figure before the export: the growth is garbage ` +
            'V8 had not collected yet (it lets the old generation grow to several times the live heap between full collections), not memory the export holds.',
        );
      }
    } finally {
      await parley.stop();
    }
  } finally {
    await target.cleanUp();
  }
}
