/**
 * Child processes of the benchmark: the fake LLM, the baseline server and Parley instances.
 *
 * Every server runs as its own process so that its CPU time, memory and file descriptors are its own
 * and not the load generator's. Each is started through `sh -c 'ulimit -n <hard>; exec node …'` so it
 * gets the highest descriptor limit the machine allows even when the bench itself was started without
 * raising it; `exec` keeps the pid we hold equal to the node process we measure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = new URL('..', import.meta.url).pathname;

/**
 * How Parley's server is started: `bin/parley.js` with the environment and Node.js flags of its own
 * `#!` line (`#!/usr/bin/env -S NAME=value … node <flags>`), as `npm start`, `npx parley serve` and the
 * deploy guide run it (the bench spawns `node` itself, to raise the descriptor limit and keep the pid
 * it measures).
 */
const SHEBANG = readFileSync(join(ROOT, 'bin/parley.js'), 'utf8').split('\n', 1)[0]!.match(/^#!\/usr\/bin\/env -S (.*)$/)?.[1]?.split(' ') ?? [];
const NODE_AT = SHEBANG.indexOf('node');
/** The variables the `#!` line sets before node starts (glibc's allocator settings: docs/decisions.md). */
export const PARLEY_SERVE_ENV: Record<string, string> = Object.fromEntries(
  SHEBANG.slice(0, Math.max(NODE_AT, 0)).map((assignment) => [assignment.slice(0, assignment.indexOf('=')), assignment.slice(assignment.indexOf('=') + 1)]),
);
export const PARLEY_SERVE: string[] = [...SHEBANG.slice(NODE_AT + 1), 'bin/parley.js', 'serve'];
/** The command line as a report prints it. */
export const PARLEY_COMMAND = [...Object.entries(PARLEY_SERVE_ENV).map(([k, v]) => `${k}=${v}`), 'node', ...PARLEY_SERVE].join(' ');
const live = new Set<ChildProcess>();
const tempDirs: string[] = [];

// Whatever way the bench ends (done, thrown, Ctrl-C), no server is left behind.
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, stopping child processes`);
    process.exit(130);
  });
}

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `parley-bench-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

export interface Child {
  name: string;
  pid: number;
  /** Filled once the process printed its `{"url": …}` line or answered /health. */
  url: string;
  process: ChildProcess;
  /** Last lines of stdout/stderr, shown when something fails. */
  logTail(): string;
  /** The V8 inspector's WebSocket URL when started with `inspect` (used only to ask for a full GC). */
  inspectorUrl(): string | undefined;
  stop(): Promise<void>;
}

/** Starts `node <args>` with the descriptor limit raised to the hard limit. */
function spawnNode(name: string, args: string[], env: NodeJS.ProcessEnv): Omit<Child, 'url'> {
  const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', process.execPath, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  live.add(child);
  const lines: string[] = [];
  const keep = (line: string) => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  // Parley logs (JSON lines) go to stdout, its fatal one-liners to stderr: keep both.
  createInterface({ input: child.stderr! }).on('line', keep);
  if (name.startsWith('parley')) createInterface({ input: child.stdout! }).on('line', keep);
  let stopping = false;
  child.on('exit', (code, signal) => {
    live.delete(child);
    // A server dying in the middle of a phase is a finding: say so at once, with its last words.
    if (!stopping) console.error(`\n!! ${name} (pid ${child.pid}) exited unexpectedly (${signal ?? code}); last output:\n${lines.join('\n')}\n`);
  });
  const stop = async () => {
    stopping = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  let inspector: string | undefined;
  createInterface({ input: child.stderr! }).on('line', (line) => {
    inspector ??= /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1];
  });
  return { name, pid: child.pid, process: child, logTail: () => lines.join('\n'), inspectorUrl: () => inspector, stop };
}

/** Resolves with the `url` of the first JSON line on stdout (how the fake and the baseline say they listen). */
function waitForUrlLine(child: Omit<Child, 'url'>, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.process.stdout! });
    const timer = setTimeout(() => reject(new Error(`${child.name} did not start within ${timeoutMs} ms\n${child.logTail()}`)), timeoutMs);
    child.process.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited (${code}) before listening\n${child.logTail()}`));
    });
    rl.on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { url?: unknown };
        if (typeof parsed.url === 'string') {
          clearTimeout(timer);
          resolve(parsed.url);
        }
      } catch {
        // not our line
      }
    });
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface FakeLlmProcess extends Child {
  stats(): Promise<{ received: number; open: number; closed: number; lastClosedAt: number | null }>;
  setDelays(delays: { firstTokenDelayMs?: number; chunkDelayMs?: number }): Promise<void>;
}

/**
 * The fake LLM in its own process, through bench/fake-llm-process.ts: test/fake-llm/main.ts offers no
 * way to read `stats()` or change delays from outside, which phases 4 and 5 need, so this small wrapper
 * around the same `startFakeLlm` adds a line protocol on stdin/stdout.
 */
export async function startFakeLlmProcess(
  delays: { firstTokenDelayMs?: number; chunkDelayMs?: number } = {},
  longReply?: { prompt: string; bytes: number },
): Promise<FakeLlmProcess> {
  const base = spawnNode('fake-llm', ['--import', 'tsx', 'bench/fake-llm-process.ts'], {
    FAKE_LLM_FIRST_TOKEN_DELAY_MS: String(delays.firstTokenDelayMs ?? 0),
    FAKE_LLM_CHUNK_DELAY_MS: String(delays.chunkDelayMs ?? 0),
    ...(longReply ? { FAKE_LLM_LONG_PROMPT: longReply.prompt, FAKE_LLM_LONG_REPLY_BYTES: String(longReply.bytes) } : {}),
  });
  const url = await waitForUrlLine(base);
  const waiting = new Map<number, (value: any) => void>();
  let nextId = 1;
  createInterface({ input: base.process.stdout! }).on('line', (line) => {
    try {
      const message = JSON.parse(line) as { id?: number; result?: unknown };
      if (typeof message.id === 'number') {
        waiting.get(message.id)?.(message.result);
        waiting.delete(message.id);
      }
    } catch {
      // ignore
    }
  });
  const call = (command: Record<string, unknown>) =>
    new Promise<any>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      base.process.stdin!.write(`${JSON.stringify({ id, ...command })}\n`);
    });
  return {
    ...base,
    url,
    stats: () => call({ cmd: 'stats' }),
    setDelays: async (d) => {
      await call({ cmd: 'setDelays', ...d });
    },
  };
}

// Phase 5 servers listen for the inspector on loopback, so the bench can ask V8 for a full garbage
// collection before reading RSS; without it, garbage left by the set-up hides or inflates the growth.
const INSPECT = '--inspect=127.0.0.1:0';

export async function startBaseline(llmUrl: string, options: { inspect?: boolean } = {}): Promise<Child> {
  const base = spawnNode('baseline', [...(options.inspect ? [INSPECT] : []), '--import', 'tsx', 'bench/baseline-server.ts'], { LLM_BASE_URL: llmUrl, PORT: '0' });
  return { ...base, url: await waitForUrlLine(base) };
}

export interface ParleyOptions {
  llmUrl: string;
  databaseUrl?: string;
  /** Used only without databaseUrl: the embedded PGlite folder (a fresh temp dir when absent). */
  dataDir?: string;
  inspect?: boolean;
  /** More variables for this instance (the soak's rate limits, say); they win over the defaults here. */
  env?: NodeJS.ProcessEnv;
}

/** What every Parley process of the bench runs with: production mode, the fake LLM, quiet logs, limits raised. */
export function benchParleyEnv(llmUrl: string): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'production',
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123456789',
    HOST: '127.0.0.1',
    LLM_PROVIDER: 'openai-compatible',
    LLM_BASE_URL: llmUrl,
    LLM_API_KEY: 'bench',
    LLM_MODEL: 'fake-model',
    LOG_LEVEL: 'warn',
    SHUTDOWN_GRACE_MS: '2000',
    // The soak uploads about 1 MB per account every 9 s: past 15 minutes it would meet the account's cap.
    KNOWLEDGE_LIMIT_PER_ACCOUNT: '0',
    // Raised, not switched off: the limiter's cost is part of what is measured (SPEC §12).
    RATE_LIMIT_REGISTER_IP: '1000000/1m',
    RATE_LIMIT_LOGIN_IP: '1000000/1m',
    RATE_LIMIT_LOGIN_ACCOUNT: '1000000/1m',
    RATE_LIMIT_MESSAGES_USER: '1000000/1m',
    RATE_LIMIT_PUBLIC_VISITOR: '1000000/1m',
    RATE_LIMIT_PUBLIC_IP: '1000000/1m',
    RATE_LIMIT_PUBLIC_CHATBOT: '1000000/1m',
  };
}

export async function startParley(name: string, options: ParleyOptions): Promise<Child> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...benchParleyEnv(options.llmUrl), PORT: String(port) };
  Object.assign(env, options.env);
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  else env.DATA_DIR = options.dataDir ?? tempDir('data');
  const base = spawnNode(name, [...(options.inspect ? [INSPECT] : []), ...PARLEY_SERVE], { ...PARLEY_SERVE_ENV, ...env });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  let exited = false;
  base.process.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${name} exited before answering /health\n${base.logTail()}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not answer /health within 60 s\n${base.logTail()}`);
    await sleep(100);
  }
  return { ...base, url };
}

// Runs in a short-lived helper process: Node 20 has WebSocket only behind --experimental-websocket.
const GC_SCRIPT = `
const ws = new WebSocket(process.argv[1]);
ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
ws.onmessage = (m) => { if (JSON.parse(m.data).id === 1) { ws.close(); process.exit(0); } };
ws.onerror = () => process.exit(2);
setTimeout(() => process.exit(3), 30000);`;

/** Asks a server started with `inspect` for a full garbage collection; false when it cannot. */
export async function forceGc(child: Child): Promise<boolean> {
  const url = child.inspectorUrl();
  if (!url) return false;
  const helper = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', '-e', GC_SCRIPT, url], { stdio: 'ignore' });
  return new Promise((resolve) => helper.on('exit', (code) => resolve(code === 0)));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux the bench targets (getconf CLK_TCK)

/** CPU time (user + system) of a process in milliseconds, from /proc/<pid>/stat. */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size in bytes, from VmRSS in /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The soft "Max open files" limit of a process. */
export function fdLimit(pid: number): number {
  const match = /Max open files\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return match ? Number(match[1]) : NaN;
}
