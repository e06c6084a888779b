/**
 * The "Soak" section of docs/benchmarks.md: the command, the machine, what ran, each criterion with
 * its figure, and the request outcomes by kind.
 */
import { PARLEY_COMMAND } from './processes.js';
import type { Machine } from './report.js';
import { COLUMNS, KINDS, type Kind, type Tally } from './soak-client.js';
import type { SoakSettings } from './soak.js';
import type { TrafficPlan, UnreadCounts } from './soak-traffic.js';
import type { DatabaseFindings, SlowProbes } from './soak-watch.js';

export interface Criterion {
  name: string;
  measured: string;
  target: string;
  pass: boolean;
}

export interface SoakResult {
  settings: SoakSettings;
  plan: TrafficPlan;
  runId: string;
  startedAt: Date;
  loadSeconds: number;
  machine: Machine;
  exit: { at: number; how: string } | null;
  health: { p99: number; max: number; count: number; failures: number; cooldownP99: number; slow: SlowProbes };
  rss: { bare: number; start: number; peak: number; after: number; afterGc: number };
  resets: number;
  proxyAttempts: number;
  tally: Tally;
  unread: UnreadCounts;
  findings: DatabaseFindings | null;
  errorLogs: { count: number; samples: string[] };
  longReplyBytes: number;
  problems: string[];
  criteria: Criterion[];
}

/** A lock's lease (the 120 s a turn may hold its conversation), lapsed or not. */
export const lease = (b: { leaseLeftSeconds: number }) => (b.leaseLeftSeconds >= 0 ? `lease ends in ${b.leaseLeftSeconds.toFixed(0)} s` : `lease lapsed ${(-b.leaseLeftSeconds).toFixed(0)} s ago`);

const KIND_NAMES: Record<Kind, string> = {
  turn: 'Turns answered whole',
  stream: 'Streamed turns, read to the end',
  login: 'Sign-ins',
  upload: 'Knowledge uploads (~1 MB Chinese)',
  conversation: 'New conversations',
  unread: 'Streams never read',
};

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const mib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : 'n/a');

function method(r: SoakResult): string {
  const p = r.plan;
  return [
    `For ${r.loadSeconds} s, against one Parley process (\`${PARLEY_COMMAND}\`, production mode, default limits except the sign-up, sign-in and message limits the other phases raise too) whose PostgreSQL connections pass through a TCP proxy that cuts every one of them with a reset every ${r.settings.resetSeconds} s:`,
    `${p.turnLoops} users send turns back to back (every other one streamed), ${p.streamLoops} users send streamed turns read to the end (${p.turnPauseMs} ms between turns, a new conversation every 20 turns or after a 409);`,
    `a user signs in every ${p.loginPauseMs / 1000} s (3 accounts in turn); ~1 MB Chinese documents (≈ 330,000 characters) are added to a chatbot's knowledge one after another, ${p.uploadPauseMs / 1000} s apart, by 3 accounts in turn (each stays under the default 30 uploads per minute);`,
    `one client asks for a long streamed reply (≈ ${(r.longReplyBytes / 1e6).toFixed(0)} MB: on Linux loopback the kernel buffers ~4 MB of a socket nobody reads before the server feels it), reads the first packet of the answer and nothing more, holds the socket until the reply is stored, then starts again ${p.unreadPauseMs / 1000} s later.`,
    'The fake LLM streams each reply in word chunks 10 ms apart. `/health` is probed every 100 ms (each probe on time, not after the previous answer); RSS is read from /proc every second.',
    `After the load the server is left alone for ${r.settings.cooldownSeconds} s, then RSS is read and the database is queried directly (not through the proxy). "RSS at the start" is read 3 s after one request of each kind (a turn, a streamed turn, a sign-in, an upload) was answered, before the load, so that what the server starts on first use (the chunking worker thread) is in both figures.`,
  ].join(' ');
}

function outcomesTable(tally: Tally): string[] {
  const used = COLUMNS.filter((c) => tally.count(null, c) > 0 || ['2xx', '503', 'other 5xx'].includes(c));
  const out = [`| Requests | Total | ${used.join(' | ')} |`, `|---|---:|${used.map(() => '---:').join('|')}|`];
  for (const kind of KINDS) out.push(`| ${KIND_NAMES[kind]} | ${tally.count(kind, null)} | ${used.map((c) => tally.count(kind, c)).join(' | ')} |`);
  out.push(`| **All** | ${tally.count(null, null)} | ${used.map((c) => tally.count(null, c)).join(' | ')} |`);
  return out;
}

const TAG_NAMES: Record<string, string> = { upload: 'an upload was under way', unread: 'a never-read stream was open' };

function slowNote(s: SlowProbes): string {
  const share = (n: number) => `${((n / Math.max(1, s.total)) * 100).toFixed(0)}%`;
  const tags = s.tags.map((t) => `${t.slow} while ${TAG_NAMES[t.tag] ?? t.tag} (true of ${share(t.all)} of all probes)`);
  return `\`/health\` probes of ${s.threshold} ms or more during the load: ${s.slow} of ${s.total}${s.slow ? `; sent ${[...tags, `${s.untagged} while neither`].join(', ')}` : ''}.`;
}

function notes(r: SoakResult): string[] {
  const { unread, findings, rss } = r;
  const drop = unread.dropSeconds.length ? `, each after ${Math.min(...unread.dropSeconds).toFixed(0)}–${Math.max(...unread.dropSeconds).toFixed(0)} s` : '';
  const out = [
    `Connection resets: ${r.resets} (every open database connection each time); connections the proxy accepted in all: ${r.proxyAttempts}.`,
    `RSS: ${mib(rss.bare)} just after start, ${mib(rss.start)} at the start of the load (after the warm-up requests), ${mib(rss.peak)} at the peak, ${mib(rss.after)} after the cool-down (${(rss.after / rss.bare).toFixed(2)}× the just-started figure), ${mib(rss.afterGc)} after a forced full garbage collection of the main thread.`,
    `\`/health\` during the cool-down: p99 ${r.health.cooldownP99.toFixed(1)} ms.`,
    slowNote(r.health.slow),
    `Streams never read: ${unread.opened} opened, ${unread.dropped} dropped by the server (reply stored \`interrupted\` while the client still held the socket${drop}), ${unread.cutByEnd} still open when the load ended${unread.other.length ? `; otherwise: ${unread.other.join('; ')}` : ''}.`,
  ];
  if (r.tally.streamErrors.size > 0) out.push(`\`error\` events ending streamed turns, by code: ${[...r.tally.streamErrors].map(([code, n]) => `${code} ${n}`).join(', ')}.`);
  if (findings) {
    if (findings.busy.length > 0) {
      out.push(
        `Conversations whose reply lock outlived its turn: ${findings.busy.slice(0, 5).map((b) => `${b.id} (${lease(b)})`).join(', ')}. Each held its conversation (409 to the next turn) until its lease lapsed, although no turn was running; a lapsed lock no longer refuses turns.`,
      );
    }
    out.push(`Database after the load: ${Object.entries(findings.replies).map(([s, n]) => `${n} ${s}`).join(', ')} replies; ${findings.unanswered} conversation(s) whose last message is the user's (a turn that stored no reply); ${findings.documents} knowledge documents; ${findings.databaseMiB.toFixed(0)} MiB.`);
  }
  out.push(`Server log lines at level error or above: ${r.errorLogs.count}${r.errorLogs.samples.length ? ` (first: ${r.errorLogs.samples.slice(0, 3).map((s) => `\`${s}\``).join('; ')})` : ''}.`);
  if (r.tally.samples.length > 0) out.push(`Unexpected answers and other 4xx (first ${Math.min(10, r.tally.samples.length)}): ${r.tally.samples.slice(0, 10).map((s) => `\`${s}\``).join('; ')}.`);
  for (const p of r.problems) out.push(`**Problem:** ${p}`);
  return out;
}

export function renderSoak(r: SoakResult, totalSeconds: number): string {
  const m = r.machine;
  const passed = r.criteria.filter((c) => c.pass).length;
  return [
    '## Soak: mixed traffic while PostgreSQL connections are reset',
    '',
    `Generated by \`bench/soak.ts\` on ${r.startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} in ${Math.round(totalSeconds)} s (run id ${r.runId}): **${passed} of ${r.criteria.length} criteria met**. Re-run with:`,
    '',
    '```sh',
    `SOAK_SECONDS=${r.settings.seconds} SOAK_RESET_SECONDS=${r.settings.resetSeconds} SOAK_COOLDOWN_SECONDS=${r.settings.cooldownSeconds} npm run bench -- soak`,
    '```',
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, Node ${m.node}, ${m.database}; ${m.background}.`,
    '',
    method(r),
    '',
    '| Criterion | Measured | Target | Verdict |',
    '|---|---|---|---|',
    ...r.criteria.map((c) => `| ${[c.name, c.measured, c.target, c.pass ? '✅ met' : '❌ missed'].map(cell).join(' | ')} |`),
    '',
    ...outcomesTable(r.tally),
    '',
    ...notes(r).map((n) => `- ${cell(n)}`),
    '',
  ].join('\n');
}
