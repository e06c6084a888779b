/**
 * What the soak watches besides its own requests: `/health` every 100 ms (each probe sent on time,
 * whether or not the previous one answered, so a stalled server shows in the figures rather than
 * slowing the probes), the server's resident memory every second, and afterwards the database
 * itself, read directly (not through the proxy) as its owner.
 */
import http from 'node:http';
import postgres from 'postgres';
import { percentile } from './client.js';
import { rssBytes } from './processes.js';

const HEALTH_EVERY_MS = 100;
const HEALTH_DEADLINE_MS = 5_000;

export interface SlowProbes {
  threshold: number;
  slow: number;
  total: number;
  /** Per tag (what was under way when a probe was sent): slow probes and all probes carrying it. */
  tags: Array<{ tag: string; slow: number; all: number }>;
  /** Slow probes sent while nothing tagged was under way. */
  untagged: number;
}

export interface HealthProbe {
  /** Latencies (ms) of the probes sent since `mark()`; a probe without a 200 counts as the deadline. */
  p99(): number;
  /** How the probes slower than `threshold` ms fall on what was under way when they were sent. */
  slow(threshold: number): SlowProbes;
  max(): number;
  count(): number;
  failures(): number;
  /** Starts a new window (the figures above then cover only what follows). */
  mark(): void;
  stop(): Promise<void>;
}

/** `underWay()` names what is under way as each probe is sent (e.g. `upload`), for `slow()`. */
export function startHealthProbe(url: string, underWay: () => string[] = () => []): HealthProbe {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let latencies: number[] = [];
  let tagged: Array<{ ms: number; tags: string[] }> = [];
  let failures = 0;
  const pending = new Set<Promise<void>>();
  const probe = () => {
    const started = performance.now();
    const tags = underWay();
    const done = new Promise<void>((resolve) => {
      const finish = (ok: boolean) => {
        const ms = ok ? performance.now() - started : HEALTH_DEADLINE_MS;
        latencies.push(ms);
        tagged.push({ ms, tags });
        if (!ok) failures++;
        resolve();
      };
      const req = http.get(`${url}/health`, { agent, timeout: HEALTH_DEADLINE_MS }, (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode === 200));
        res.on('error', () => finish(false));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => finish(false));
    });
    pending.add(done);
    void done.then(() => pending.delete(done));
  };
  const timer = setInterval(probe, HEALTH_EVERY_MS);
  return {
    p99: () => percentile(latencies, 99),
    max: () => Math.max(...latencies),
    count: () => latencies.length,
    failures: () => failures,
    slow(threshold) {
      const slow = tagged.filter((p) => p.ms >= threshold);
      const names = [...new Set(tagged.flatMap((p) => p.tags))].sort();
      return {
        threshold,
        slow: slow.length,
        total: tagged.length,
        tags: names.map((tag) => ({ tag, slow: slow.filter((p) => p.tags.includes(tag)).length, all: tagged.filter((p) => p.tags.includes(tag)).length })),
        untagged: slow.filter((p) => p.tags.length === 0).length,
      };
    },
    mark() {
      latencies = [];
      tagged = [];
      failures = 0;
    },
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      agent.destroy();
    },
  };
}

export interface RssWatch {
  peak(): number;
  latest(): number;
  stop(): void;
}

export function watchRss(pid: number): RssWatch {
  let peak = 0;
  let latest = NaN;
  const sample = () => {
    try {
      latest = rssBytes(pid);
      peak = Math.max(peak, latest);
    } catch {
      latest = NaN; // the process is gone
    }
  };
  sample();
  const timer = setInterval(sample, 1000);
  return { peak: () => peak, latest: () => latest, stop: () => clearInterval(timer) };
}

/** The same connection string naming another database. */
export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function asAdmin<T>(url: string, work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    return await work(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export const createDatabase = (adminUrl: string, name: string) => asAdmin(adminUrl, (sql) => sql.unsafe(`CREATE DATABASE "${name}"`));
export const dropDatabase = (adminUrl: string, name: string) => asAdmin(adminUrl, (sql) => sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));

export interface DatabaseFindings {
  /** Conversations still holding a reply's lock: busy_reply_id set. */
  busy: Array<{ id: string; leaseLeftSeconds: number }>;
  /** Assistant messages by status. */
  replies: Record<string, number>;
  /** Conversations whose newest message is the user's: a turn began and no reply was stored. */
  unanswered: number;
  documents: number;
  databaseMiB: number;
}

export function readFindings(databaseUrl: string): Promise<DatabaseFindings> {
  return asAdmin(databaseUrl, async (sql) => {
    const busy = await sql<Array<{ id: string; left: number }>>`
      SELECT id, extract(epoch FROM busy_until - now())::float8 AS left FROM conversations WHERE busy_reply_id IS NOT NULL ORDER BY busy_until`;
    const replies = await sql<Array<{ status: string; n: number }>>`SELECT status, count(*)::int AS n FROM messages WHERE role = 'assistant' GROUP BY status`;
    const [unanswered] = await sql<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM conversations c
       WHERE (SELECT m.role FROM messages m WHERE m.conversation_id = c.id ORDER BY m.created_at DESC, m.id DESC LIMIT 1) = 'user'`;
    const [documents] = await sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM knowledge_documents`;
    const [size] = await sql<Array<{ bytes: number }>>`SELECT pg_database_size(current_database())::float8 AS bytes`;
    return {
      busy: busy.map((row) => ({ id: row.id, leaseLeftSeconds: row.left })),
      replies: Object.fromEntries(replies.map((row) => [row.status, row.n])),
      unanswered: unanswered!.n,
      documents: documents!.n,
      databaseMiB: size!.bytes / 2 ** 20,
    };
  });
}
